"""OPC UA security of the station's server (asyncua): Basic256Sha256 with Sign or SignAndEncrypt, the server's
certificate and key from the station config, and clients that log in with a station user's name and password.

With security on, the server offers only the configured policy (no "None" endpoint) and only user-name logins
(no anonymous session): a client without a certificate finds no endpoint, one without a name and password is
refused (BadIdentityTokenRejected), a wrong password too (BadUserAccessDenied). The name and password are those
of a station user whose role is ``line`` (db/roles.py), checked with the station's own argon2 hashes and
lock-out, and every attempt is in the audit trail (``login`` / ``login_failed`` with ``via: opcua``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from line.endpoint_security import OpcUaSecurity

log = logging.getLogger(__name__)

PasswordCheck = Callable[[str, str], bool]


@dataclass(frozen=True)
class OpcUaSecuritySettings:
    mode: OpcUaSecurity = OpcUaSecurity.NONE
    certificate: Path | None = None
    private_key: Path | None = None


def station_user_check(users: Any, role: str = "line") -> PasswordCheck:
    """A check of name and password against the station's users (a db.users.UserRepository): only an enabled
    user of ``role`` passes. The login is recorded in the audit trail like every other."""

    def check(name: str, password: str) -> bool:
        try:
            result = users.authenticate(name, password, via="opcua")
        except Exception as exc:  # noqa: BLE001 - the database unreachable: refuse, never let the client in
            log.warning("OPC UA login of %r could not be checked: %s", name, exc)
            return False
        if not result.ok or result.user is None:
            log.info("OPC UA login of %r refused: %s", name, result.message)
            return False
        if result.user.role != role:
            log.info(
                "OPC UA login of %r refused: the role is %r, a PLC logs in as a %r user", name, result.user.role, role
            )
            return False
        return True

    return check


def certificate_uri(path: Path) -> str | None:
    """The application URI in a certificate's subjectAltName (the server must announce the same one)."""
    from cryptography import x509

    data = path.read_bytes()
    try:
        cert = x509.load_der_x509_certificate(data)
    except ValueError:
        cert = x509.load_pem_x509_certificate(data)
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = names.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def user_manager(check: PasswordCheck | None) -> Any:
    """An asyncua user manager that lets in only users ``check`` accepts (as UserRole.User: read and write)."""
    from asyncua.crypto.permission_rules import User, UserRole
    from asyncua.server.user_managers import UserManager

    class StationUsers(UserManager):
        def get_user(
            self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None
        ) -> Any:
            if check is None or not username or password is None:
                return None
            return User(role=UserRole.User) if check(username, password) else None

    return StationUsers()


async def apply_security(server: Any, settings: OpcUaSecuritySettings) -> None:
    """Configure ``server`` (after ``init``, before ``start``) as ``settings`` say."""
    from asyncua import ua

    if settings.mode is OpcUaSecurity.NONE:
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        return
    if settings.certificate is None or settings.private_key is None:
        raise ValueError("OPC UA security needs a certificate and a private key")
    uri = certificate_uri(settings.certificate)
    if uri:
        await server.set_application_uri(uri)
    await server.load_certificate(str(settings.certificate))
    await server.load_private_key(str(settings.private_key))
    policy = (
        ua.SecurityPolicyType.Basic256Sha256_Sign
        if settings.mode is OpcUaSecurity.SIGN
        else ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt
    )
    server.set_security_policy([policy])
    server.set_identity_tokens([ua.UserNameIdentityToken])


__all__ = [
    "OpcUaSecuritySettings",
    "PasswordCheck",
    "apply_security",
    "certificate_uri",
    "station_user_check",
    "user_manager",
]
