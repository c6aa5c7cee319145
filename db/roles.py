"""Who may do what: the station's roles, its actions and the one permission table. No Qt, no SQLAlchemy.

The table below is the single source of truth. ``docs/roles.md`` prints the same table and a test checks that the
two agree; the database layer (db/guarded.py, db/users.py) calls :func:`require` before every change, and the
desktop (greying out buttons) asks :func:`allowed`.

    allowed("operator", REVIEW)          -> False
    require(user, OVERRIDE_THRESHOLD)    raises PermissionDenied unless the user's role may
"""

from __future__ import annotations

from typing import Protocol

from .auth_errors import PermissionDenied

# -- roles ---------------------------------------------------------------------------------------------------
OPERATOR = "operator"
ENGINEER = "engineer"  # QA engineer
ADMIN = "admin"
LINE = "line"  # technical user of the headless line runner / the PLC: never a person at the keyboard
ROLES: tuple[str, ...] = (OPERATOR, ENGINEER, ADMIN, LINE)
HUMAN_ROLES: tuple[str, ...] = (OPERATOR, ENGINEER, ADMIN)

# -- actions -------------------------------------------------------------------------------------------------
INSPECT = "inspect"
AUTO_MODE = "auto_mode"
CHAT = "chat"
MARK_FOR_REVIEW = "mark_for_review"
REVIEW = "review"  # confirm defect / false alarm, relabel
EXPORT = "export"
MANAGE_REFERENCES = "manage_references"
MANAGE_PRODUCTS = "manage_products"  # recipes: create, rename, delete, recalibrate, decoder settings
OVERRIDE_THRESHOLD = "override_threshold"
MANAGE_USERS = "manage_users"
STATION_SETTINGS = "station_settings"

ACTIONS: tuple[str, ...] = (
    INSPECT,
    AUTO_MODE,
    CHAT,
    MARK_FOR_REVIEW,
    REVIEW,
    EXPORT,
    MANAGE_REFERENCES,
    MANAGE_PRODUCTS,
    OVERRIDE_THRESHOLD,
    MANAGE_USERS,
    STATION_SETTINGS,
)

ACTION_WORDS: dict[str, str] = {
    INSPECT: "inspect a part",
    AUTO_MODE: "switch auto mode on or off",
    CHAT: "ask in the chat",
    MARK_FOR_REVIEW: "mark a part for review",
    REVIEW: "review or relabel an inspection",
    EXPORT: "export the history",
    MANAGE_REFERENCES: "add, remove or replace reference images",
    MANAGE_PRODUCTS: "create, change, recalibrate or delete products (recipes)",
    OVERRIDE_THRESHOLD: "override a product's threshold",
    MANAGE_USERS: "manage users",
    STATION_SETTINGS: "change the station settings",
}

_OPERATOR = frozenset({INSPECT, AUTO_MODE, CHAT, MARK_FOR_REVIEW})
_ENGINEER = _OPERATOR | {REVIEW, EXPORT, MANAGE_REFERENCES, MANAGE_PRODUCTS, OVERRIDE_THRESHOLD}
_ADMIN = _ENGINEER | {MANAGE_USERS, STATION_SETTINGS}
_LINE = frozenset({INSPECT, AUTO_MODE})

PERMISSIONS: dict[str, frozenset[str]] = {
    OPERATOR: _OPERATOR,
    ENGINEER: _ENGINEER,
    ADMIN: _ADMIN,
    LINE: _LINE,
}


class HasRole(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...


def allowed(role: str, action: str) -> bool:
    """Whether ``role`` may do ``action``. An unknown action is a programming error (ValueError)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    return action in PERMISSIONS.get(role, frozenset())


def require(user: HasRole | None, action: str) -> None:
    """Raise PermissionDenied unless ``user`` (a UserInfo, or None for nobody logged in) may do ``action``."""
    if user is None:
        raise PermissionDenied(f"Log in to {ACTION_WORDS.get(action, action)}.", action=action, role=None, user=None)
    if not allowed(user.role, action):
        raise PermissionDenied(
            f"{user.name} ({user.role}) may not {ACTION_WORDS.get(action, action)}. Ask someone whose role may: "
            f"{', '.join(r for r in ROLES if allowed(r, action))}.",
            action=action,
            role=user.role,
            user=user.name,
        )


def check_role(role: str) -> str:
    """The role name, or ValueError naming the known ones."""
    cleaned = str(role or "").strip().lower()
    if cleaned not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    return cleaned


def markdown_table() -> str:
    """The permission table as the Markdown docs/roles.md holds (a test compares them)."""
    lines = ["| action | " + " | ".join(ROLES) + " |", "|---|" + "---|" * len(ROLES)]
    for action in ACTIONS:
        cells = ["yes" if allowed(r, action) else "no" for r in ROLES]
        lines.append(f"| `{action}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


__all__ = [
    "ACTIONS",
    "ACTION_WORDS",
    "ADMIN",
    "AUTO_MODE",
    "CHAT",
    "ENGINEER",
    "EXPORT",
    "HUMAN_ROLES",
    "INSPECT",
    "LINE",
    "MANAGE_PRODUCTS",
    "MANAGE_REFERENCES",
    "MANAGE_USERS",
    "MARK_FOR_REVIEW",
    "OPERATOR",
    "OVERRIDE_THRESHOLD",
    "PERMISSIONS",
    "REVIEW",
    "ROLES",
    "STATION_SETTINGS",
    "allowed",
    "check_role",
    "markdown_table",
    "require",
]
