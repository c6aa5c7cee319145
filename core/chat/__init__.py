"""The station's grounded chat: a local language model that answers about the inspected part and the history.

Qt-free and database-free. Entry points: ``core.chat.loading.open_chat`` (load once, get a ChatSession),
``core.chat.session.ChatSession`` (ask/stream answers), ``core.chat.history.HistoryQueries`` (what the chat
needs from the history), ``core.chat.cli`` (``main.py chat`` and ``main.py train-prompts``).
"""
