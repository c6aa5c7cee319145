"""The layout the station's small form dialogs share: what is said above the form (a hint, a refusal), the labelled
fields, and OK / Cancel, with OK enabled only while the form is filled in as it needs to be."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

ERROR_STYLE = "color:#b00020;"


def message_label(parent: QWidget, text: str, *, object_name: str = "", error: bool = False) -> QLabel:
    """A word-wrapped line above the form, hidden while it has nothing to say."""
    label = QLabel(text, parent)
    label.setWordWrap(True)
    if object_name:
        label.setObjectName(object_name)
    if error:
        label.setStyleSheet(ERROR_STYLE)
    label.setVisible(bool(text))
    return label


def password_fields(parent: QWidget, count: int) -> list[QLineEdit]:
    fields = [QLineEdit(parent) for _ in range(count)]
    for field in fields:
        field.setEchoMode(QLineEdit.EchoMode.Password)
    return fields


def lay_out_form(
    dialog: QDialog,
    rows: Sequence[tuple[str, QWidget]],
    *,
    ok_text: str = "",
    cancel_text: str = "",
    above: Iterable[QWidget] = (),
    watch: Iterable[QLineEdit] = (),
    ready: Callable[[], bool] | None = None,
) -> QDialogButtonBox:
    """Lay out ``above``, the form of ``rows`` and OK / Cancel in ``dialog``; with ``ready``, OK is enabled only
    while it says so, checked whenever a ``watch`` field changes. Returns the button box."""
    form = QFormLayout()
    for label, widget in rows:
        form.addRow(label, widget)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, dialog)
    ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
    if ok_text:
        ok.setText(ok_text)
    if cancel_text:
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(cancel_text)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    for widget in above:
        layout.addWidget(widget)
    layout.addLayout(form)
    layout.addWidget(buttons)
    if ready is not None:
        check = ready

        def update(*_args: object) -> None:
            ok.setEnabled(bool(check()))

        for field in watch:
            field.textChanged.connect(update)
        update()
    return buttons


__all__ = ["ERROR_STYLE", "lay_out_form", "message_label", "password_fields"]
