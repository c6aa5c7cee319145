"""The chat's language model on its own long-lived thread, without Qt: the part a question is about
(context.py), what the thread reports (listener.py), how the model is opened (session_factory.py) and the thread
(chat_thread.py)."""
