"""The station's changes, as a logged-in user makes them: each checks the user's role (db/roles.py), makes the
change and appends its audit event (db/audit.py) in ONE transaction, so there is never a change without its event.

    guarded = GuardedDatabase(Database.open(data_dir))
    result = guarded.users.authenticate("anna", password)          # or db.auth.AuthSession(guarded.users).login
    guarded.set_threshold_override(result.user, product_id, 0.6, reason="lighting changed, see ticket 42")
    guarded.review(result.user, inspection_id, "false_alarm", reason="scratch is on the fixture")

Every method takes the acting user (a ``UserInfo``) first; its role and enabled flag are read again from the
database in the same transaction, so a stale or hand-made ``UserInfo`` gives no more rights than the row. A role
that may not do the action raises :class:`db.auth_errors.PermissionDenied`; a missing reason where one is required
raises :class:`db.auth_errors.ReasonRequiredError`. Reading (products, history, statistics) stays on ``Database``.

The older, unguarded repository methods (``Database.products.set_threshold_override`` ...) still exist for code
that has not moved here yet; they record no audit event.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.threshold_guard import ThresholdMove, assess_threshold_move, check_guard_share, needs_second_confirmation

from . import audit
from .audit import AuditTrail, append_event
from .auth_errors import AuthenticationError, PermissionDenied, ReasonRequiredError
from .convert import product_info, reference_info
from .errors import ProductInUseError, ValidationError
from .image_store import StoredFile
from .lookup import active_reference_count, inspection_row, product_row, reference_row
from .models import (
    REVIEW_CONFIRMED_DEFECT,
    REVIEW_FALSE_ALARM,
    REVIEW_NEEDS_REVIEW,
    ChatMessage,
    Inspection,
    Product,
    ReferenceImage,
    Review,
    StationSetting,
)
from .products import clean_name
from .records import HistoryFilter, InspectionRecord, ProductInfo, ReferenceInfo
from .references import ImageInput, ReferenceRepository, store_image
from .repository import Database
from .reviews import ReviewInfo, ReviewQueries, label_in_force, review_info
from .roles import (
    EXPORT,
    INSPECT,
    MANAGE_PRODUCTS,
    MANAGE_REFERENCES,
    MARK_FOR_REVIEW,
    OVERRIDE_THRESHOLD,
    REVIEW,
    STATION_SETTINGS,
)
from .session import make_sessionmaker, reading, transaction
from .threshold_moves import (
    THRESHOLD_GUARD_SETTING,
    SecondConfirmation,
    SecondConfirmationRequired,
    guard_share,
    recent_failures,
)
from .types import ensure_utc, utc_now
from .users import UserInfo, UserRepository, acting_row, user_info

IDLE_LOGOUT_SETTING = "idle_logout_s"
DEFAULT_IDLE_LOGOUT_S = 600  # the GUI logs a person out after this many idle seconds unless the admin set another
MAX_REASON_LENGTH = 2000


def require_reason(reason: str | None, what: str) -> str:
    text = " ".join(str(reason or "").split())
    if not text:
        raise ReasonRequiredError(f"Say why: {what} needs a reason, which is kept in the audit trail.")
    if len(text) > MAX_REASON_LENGTH:
        raise ValidationError(f"The reason is too long ({len(text)} characters; at most {MAX_REASON_LENGTH}).")
    return text


def _optional_text(value: str | None) -> str | None:
    text = " ".join(str(value or "").split())
    return text[:MAX_REASON_LENGTH] or None


def _calibration_summary(calibration: dict[str, Any] | None) -> dict[str, Any] | None:
    if calibration is None:
        return None
    keys = ("id", "threshold", "method", "rule", "override_threshold")
    return {k: calibration.get(k) for k in keys if k in calibration}


def _activate_reference(
    session: Session,
    by: str,
    product: Product,
    sha256: str,
    make: Callable[[ReferenceImage | None], ReferenceImage],
    when: datetime,
    reason: str | None = None,
) -> ReferenceImage:
    """Add (or re-activate) one reference of ``product`` with ``make(existing row or None)``, and append the audit
    event when it was not an active reference before, in the caller's transaction."""
    existing = session.scalars(
        select(ReferenceImage).where(ReferenceImage.product_id == product.id, ReferenceImage.image_sha256 == sha256)
    ).one_or_none()
    before = _reference_summary(existing) if existing is not None else None
    row = make(existing)
    session.flush()
    if before is None or not before["active"]:
        append_event(
            session,
            actor=by,
            action=audit.REFERENCE_ADDED,
            target=f"product:{product.name}",
            before=before,
            after=_reference_summary(row),
            reason=reason,
            at=when,
        )
    return row


def _reference_summary(row: ReferenceImage) -> dict[str, Any]:
    return {
        "id": row.id,
        "product_id": row.product_id,
        "sha256": row.image_sha256,
        "name": row.original_name,
        "source": row.source,
        "active": bool(row.active),
    }


def _outcome(label_or_verdict: str) -> str:
    """What a verdict or a label says about the part: defective or good."""
    return "defective" if label_or_verdict in ("FAIL", REVIEW_CONFIRMED_DEFECT) else "good"


class GuardedDatabase:
    """Permission-checked, audited changes over a :class:`db.repository.Database` (which it keeps for reading)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._maker = make_sessionmaker(database.engine)
        self.users = UserRepository(self._maker)
        self.audit = AuditTrail(self._maker)
        self.reviews = ReviewQueries(self._maker)

    # -- checks ------------------------------------------------------------------------------------------------
    def check(self, actor: UserInfo | None, action: str) -> UserInfo:
        """The actor as the database holds it now; PermissionDenied unless it may do ``action``. For actions that
        change nothing in the database (auto mode, chat): the desktop asks before it acts."""
        with reading(self._maker, "check the user's rights") as session:
            return user_info(acting_row(session, actor, action))

    # -- inspections -------------------------------------------------------------------------------------------
    def record_inspection(self, actor: UserInfo, **kwargs: Any) -> InspectionRecord:
        """``Database.inspections.record(**kwargs)`` for a user who may inspect (operator defaults to the user)."""
        who = self.check(actor, INSPECT)
        kwargs.setdefault("operator", who.name)
        return self.database.inspections.record(**kwargs)

    # -- products ----------------------------------------------------------------------------------------------
    def _stage(
        self, images: Sequence[ImageInput], original_names: Sequence[str | None] | None
    ) -> list[tuple[StoredFile, str | None]]:
        staged = [store_image(self.database.store, img) for img in images]  # files first: durable before any row
        if original_names is not None:
            names = list(original_names)
            if len(names) != len(staged):
                raise ValueError("original_names must match the images one to one")
            staged = [(f, n if n is not None else old) for (f, old), n in zip(staged, names, strict=False)]
        return staged

    def _add_reference_rows(
        self,
        session: Session,
        by: str,
        product: Product,
        staged: list[tuple[StoredFile, str | None]],
        source: str,
        when: datetime,
    ) -> list[ReferenceImage]:
        rows = []
        for stored, name in staged:

            def upsert(
                _existing: ReferenceImage | None, f: StoredFile = stored, n: str | None = name
            ) -> ReferenceImage:
                return ReferenceRepository._upsert(session, product.id, f, n, source, when)

            rows.append(_activate_reference(session, by, product, stored.sha256, upsert, when))
        return rows

    def create_product(
        self,
        actor: UserInfo,
        name: str,
        *,
        settings: dict[str, Any] | None = None,
        references: Sequence[ImageInput] = (),
        original_names: Sequence[str | None] | None = None,
        source: str = "file",
        calibration: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> ProductInfo:
        """Create a product, optionally with its references and calibration, all in one transaction."""
        name = clean_name(name)
        when = ensure_utc(now or utc_now(), "now")
        self.check(actor, MANAGE_PRODUCTS)
        if references:
            self.check(actor, MANAGE_REFERENCES)
        staged = self._stage(list(references), original_names) if references else []
        with transaction(self._maker, f"create the product {name!r}") as session:
            by = acting_row(session, actor, MANAGE_PRODUCTS).name
            if staged:
                acting_row(session, actor, MANAGE_REFERENCES)
            self.database.products._ensure_free(session, name)
            row = Product(name=name, created_at=when, settings=copy.deepcopy(settings or {}))
            session.add(row)
            session.flush()
            append_event(
                session,
                actor=by,
                action=audit.PRODUCT_CREATED,
                target=f"product:{name}",
                after={"id": row.id, "name": name, "settings": row.settings},
                at=when,
            )
            self._add_reference_rows(session, by, row, staged, source, when)
            if calibration is not None:
                row.calibration = copy.deepcopy(calibration)
                session.flush()
                append_event(
                    session,
                    actor=by,
                    action=audit.PRODUCT_RECALIBRATED,
                    target=f"product:{name}",
                    before=None,
                    after=_calibration_summary(calibration),
                    at=when,
                )
            return product_info(row, active_reference_count(session, row.id))

    def rename_product(
        self, actor: UserInfo, product_id: int, new_name: str, *, now: datetime | None = None
    ) -> ProductInfo:
        name = clean_name(new_name)
        when = ensure_utc(now or utc_now(), "now")
        with transaction(self._maker, f"rename the product to {name!r}") as session:
            by = acting_row(session, actor, MANAGE_PRODUCTS).name
            row = product_row(session, product_id)
            self.database.products._ensure_free(session, name, except_id=row.id)
            before = row.name
            row.name = name
            session.flush()
            append_event(
                session,
                actor=by,
                action=audit.PRODUCT_RENAMED,
                target=f"product:{name}",
                before={"name": before},
                after={"name": name},
                at=when,
            )
            return product_info(row, active_reference_count(session, row.id))

    def update_product_settings(
        self,
        actor: UserInfo,
        product_id: int,
        settings: dict[str, Any],
        *,
        merge: bool = True,
        now: datetime | None = None,
    ) -> ProductInfo:
        when = ensure_utc(now or utc_now(), "now")
        with transaction(self._maker, "save the product settings") as session:
            by = acting_row(session, actor, MANAGE_PRODUCTS).name
            row = product_row(session, product_id)
            before = copy.deepcopy(row.settings or {})
            new = copy.deepcopy(before) if merge else {}
            new.update(copy.deepcopy(settings))
            row.settings = new
            session.flush()
            append_event(
                session,
                actor=by,
                action=audit.PRODUCT_SETTINGS_CHANGED,
                target=f"product:{row.name}",
                before=before,
                after=new,
                at=when,
            )
            return product_info(row, active_reference_count(session, row.id))

    def delete_product(
        self,
        actor: UserInfo,
        product_id: int,
        *,
        delete_history: bool = False,
        reason: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Delete a product and its references; with ``delete_history`` (a reason is then required) its
        inspections, reviews and chat too. Refuses (ProductInUseError) while inspections exist otherwise."""
        when = ensure_utc(now or utc_now(), "now")
        why = require_reason(reason, "deleting a product's history") if delete_history else _optional_text(reason)
        with transaction(self._maker, "delete the product") as session:
            by = acting_row(session, actor, MANAGE_PRODUCTS).name
            row = product_row(session, product_id)
            n = int(
                session.scalar(select(func.count()).select_from(Inspection).where(Inspection.product_id == row.id)) or 0
            )
            if n and not delete_history:
                raise ProductInUseError(
                    f"The product {row.name!r} has {n} recorded inspection{'s' if n != 1 else ''}. Export its history "
                    "first and confirm deleting the history too, or keep the product."
                )
            before = {
                "id": row.id,
                "name": row.name,
                "inspections": n,
                "references": active_reference_count(session, row.id),
                "calibration": _calibration_summary(row.calibration),
                "threshold_override": row.threshold_override,
            }
            inspection_ids = select(Inspection.id).where(Inspection.product_id == row.id)
            session.execute(delete(Review).where(Review.inspection_id.in_(inspection_ids)))
            session.execute(delete(ChatMessage).where(ChatMessage.inspection_id.in_(inspection_ids)))
            session.execute(delete(ChatMessage).where(ChatMessage.product_id == row.id))
            session.execute(delete(Inspection).where(Inspection.product_id == row.id))
            session.execute(delete(ReferenceImage).where(ReferenceImage.product_id == row.id))
            name = row.name
            session.delete(row)
            session.flush()
            append_event(
                session,
                actor=by,
                action=audit.PRODUCT_DELETED,
                target=f"product:{name}",
                before=before,
                after={"history_deleted": bool(delete_history)},
                reason=why,
                at=when,
            )

    def save_calibration(
        self,
        actor: UserInfo,
        product_id: int,
        calibration: dict[str, Any] | None,
        *,
        automatic: bool = False,
        reason: str | None = None,
        confirmation: SecondConfirmation | None = None,
        now: datetime | None = None,
    ) -> ProductInfo:
        """Store the product's calibration. An engineer's recalibration needs ``manage_products``; ``automatic``
        (the station rebuilt the model from references already approved, e.g. after a calibration-rule update)
        needs only ``inspect`` and says so in the audit trail. Storing the calibration already stored records
        nothing. An engineer's recalibration that moves the threshold in use (no override in force) is measured
        against the recent failures like an override, and above the admin's share needs ``confirmation``."""
        when = ensure_utc(now or utc_now(), "now")
        guard: dict[str, Any] = {}
        new_threshold = (calibration or {}).get("threshold")
        if not automatic and isinstance(new_threshold, (int, float)) and not isinstance(new_threshold, bool):
            self.check(actor, MANAGE_PRODUCTS)
            current = self.database.products.get(product_id)
            if current.threshold_override is None and current.calibration != calibration:
                guard = self._guard_move(actor, product_id, float(new_threshold), confirmation)
        with transaction(self._maker, "save the calibration") as session:
            by = acting_row(session, actor, INSPECT if automatic else MANAGE_PRODUCTS).name
            row = product_row(session, product_id)
            before = row.calibration
            if before == calibration:
                return product_info(row, active_reference_count(session, row.id))
            row.calibration = copy.deepcopy(calibration) if calibration is not None else None
            session.flush()
            why = _optional_text(reason) or ("automatic: rebuilt from the product's references" if automatic else None)
            append_event(
                session,
                actor=by,
                action=audit.PRODUCT_RECALIBRATED,
                target=f"product:{row.name}",
                before=_calibration_summary(before),
                after={**(_calibration_summary(calibration) or {}), **guard}
                if guard
                else _calibration_summary(calibration),
                reason=why,
                at=when,
            )
            return product_info(row, active_reference_count(session, row.id))

    def set_threshold_override(
        self,
        actor: UserInfo,
        product_id: int,
        threshold: float | None,
        *,
        reason: str | None,
        confirmation: SecondConfirmation | None = None,
        now: datetime | None = None,
    ) -> ProductInfo:
        """Set (or clear with None) the product's threshold override. A reason is required either way.

        Before an override is saved, the product's recent recorded failures are compared with it
        (db/threshold_moves.py): when more than the admin's share (station setting ``threshold_guard_share``) would
        now pass, ``confirmation`` (a second engineer or admin, their password and a reason) is required, else
        :class:`SecondConfirmationRequired` is raised with the measured move and nothing is saved. The move and
        who confirmed are in the audit event either way."""
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold)
        ):
            raise ValidationError(f"The threshold must be a finite number (got {threshold!r}).")
        why = require_reason(reason, "overriding the threshold" if threshold is not None else "clearing the override")
        when = ensure_utc(now or utc_now(), "now")
        guard: dict[str, Any] = {}
        if threshold is not None:
            self.check(actor, OVERRIDE_THRESHOLD)  # refuse before measuring or asking anybody
            guard = self._guard_move(actor, product_id, float(threshold), confirmation)
        with transaction(self._maker, "save the threshold override") as session:
            by = acting_row(session, actor, OVERRIDE_THRESHOLD).name
            row = product_row(session, product_id)
            before = {
                "threshold_override": row.threshold_override,
                "by": row.threshold_override_by,
                "calibrated_threshold": (row.calibration or {}).get("threshold"),
            }
            if threshold is None:
                row.threshold_override = row.threshold_override_by = row.threshold_override_at = None
            else:
                row.threshold_override = float(threshold)
                row.threshold_override_by = by
                row.threshold_override_at = when
            session.flush()
            append_event(
                session,
                actor=by,
                action=audit.THRESHOLD_OVERRIDE,
                target=f"product:{row.name}",
                before=before,
                after={"threshold_override": row.threshold_override, "by": row.threshold_override_by, **guard},
                reason=why,
                at=when,
            )
            return product_info(row, active_reference_count(session, row.id))

    def preview_threshold_move(self, product_id: int, threshold: float) -> ThresholdMove:
        """What ``threshold`` would do to the product's recent recorded failures (nothing is saved): how many of
        them would now pass, by defect region. The "before" is the threshold in use (override, else calibration)."""
        with reading(self._maker, "check the threshold move") as session:
            row = product_row(session, product_id)
            before = row.threshold_override
            if before is None:
                before = (row.calibration or {}).get("threshold")
            start = float(before) if isinstance(before, (int, float)) else float(threshold)
            return assess_threshold_move(recent_failures(session, row.id), start, float(threshold))

    def _guard_move(
        self, actor: UserInfo, product_id: int, threshold: float, confirmation: SecondConfirmation | None
    ) -> dict[str, Any]:
        """Measure the override's move; above the admin's share demand (and check) the second person."""
        move = self.preview_threshold_move(product_id, threshold)
        return self._guard(actor, move, confirmation, key="move", what="it")

    def _guard_reference_move(
        self, actor: UserInfo, move: ThresholdMove, confirmation: SecondConfirmation | None
    ) -> dict[str, Any]:
        """A false alarm becoming a reference moves the threshold like an override: the same share, the same second
        person (the move is the reviewer's preview, measured by the station's model)."""
        return self._guard(actor, move, confirmation, key="reference_move", what="this reference")

    def _guard(
        self, actor: UserInfo, move: ThresholdMove, confirmation: SecondConfirmation | None, *, key: str, what: str
    ) -> dict[str, Any]:
        """Above the admin's share the second person is required and checked. What goes in the audit event."""
        limit = guard_share(self.get_station_setting(THRESHOLD_GUARD_SETTING))
        guard: dict[str, Any] = {key: move.as_dict(), "guard_share": limit}
        if needs_second_confirmation(move, limit):
            if confirmation is None:
                raise SecondConfirmationRequired(
                    f"{move.summary()} That is more than the {100 * limit:.0f}% the admin allows without a second "
                    f"person: an engineer or admin other than you must confirm {what} with their password and a "
                    "reason.",
                    move=move,
                    limit_share=limit,
                )
            second, second_reason = self._second_confirmation(actor, confirmation)
            guard.update(confirmed_by=second.name, confirmation_reason=second_reason)
        return guard

    def _second_confirmation(self, actor: UserInfo, confirmation: SecondConfirmation) -> tuple[UserInfo, str]:
        """The second person, logged in with their own password (audited), allowed to override thresholds, not the
        actor; and their reason."""
        name = " ".join(str(confirmation.name or "").split())
        if name.lower() == str(actor.name).lower():
            raise PermissionDenied(
                "A second person must confirm this threshold move: someone other than you.",
                action=OVERRIDE_THRESHOLD,
                user=actor.name,
            )
        reason = require_reason(confirmation.reason, "confirming the threshold move")
        result = self.users.authenticate(name, confirmation.password, via="second confirmation")
        if not result.ok or result.user is None:
            raise AuthenticationError(
                f"The confirmation was not accepted: {result.message}", status=result.status.value
            )
        return self.check(result.user, OVERRIDE_THRESHOLD), reason

    # -- references --------------------------------------------------------------------------------------------
    def add_references(
        self,
        actor: UserInfo,
        product_id: int,
        images: ImageInput | Sequence[ImageInput],
        *,
        source: str = "file",
        original_names: Sequence[str | None] | None = None,
        now: datetime | None = None,
    ) -> list[ReferenceInfo]:
        batch = (
            [images]
            if isinstance(images, (np.ndarray, bytes, bytearray, str, os.PathLike, StoredFile))
            else list(images)
        )
        if not batch:
            raise ValidationError("No reference images were given. Choose at least one image of a good part.")
        self.check(actor, MANAGE_REFERENCES)  # before any file is stored
        staged = self._stage(batch, original_names)
        when = ensure_utc(now or utc_now(), "now")
        with transaction(self._maker, "save the reference images") as session:
            by = acting_row(session, actor, MANAGE_REFERENCES).name
            product = product_row(session, product_id)
            rows = self._add_reference_rows(session, by, product, staged, source, when)
            return [reference_info(r, self.database.store) for r in rows]

    def replace_references(
        self,
        actor: UserInfo,
        product_id: int,
        images: Sequence[ImageInput],
        *,
        source: str = "file",
        original_names: Sequence[str | None] | None = None,
        now: datetime | None = None,
    ) -> list[ReferenceInfo]:
        batch = list(images)
        if not batch:
            raise ValidationError("No reference images were given. Choose at least one image of a good part.")
        self.check(actor, MANAGE_REFERENCES)
        staged = self._stage(batch, original_names)
        when = ensure_utc(now or utc_now(), "now")
        with transaction(self._maker, "replace the reference images") as session:
            by = acting_row(session, actor, MANAGE_REFERENCES).name
            product = product_row(session, product_id)
            keep = {f.sha256 for f, _ in staged}
            for old in session.scalars(
                select(ReferenceImage).where(
                    ReferenceImage.product_id == product.id, ReferenceImage.image_sha256.not_in(keep)
                )
            ).all():
                append_event(
                    session,
                    actor=by,
                    action=audit.REFERENCE_REMOVED,
                    target=f"product:{product.name}",
                    before=_reference_summary(old),
                    after=None,
                    at=when,
                )
                session.delete(old)
            session.flush()
            rows = self._add_reference_rows(session, by, product, staged, source, when)
            return [reference_info(r, self.database.store) for r in rows]

    def remove_reference(self, actor: UserInfo, reference_id: int, *, now: datetime | None = None) -> None:
        when = ensure_utc(now or utc_now(), "now")
        with transaction(self._maker, "remove the reference image") as session:
            by = acting_row(session, actor, MANAGE_REFERENCES).name
            row = reference_row(session, reference_id)
            name = session.scalar(select(Product.name).where(Product.id == row.product_id)) or ""
            before = _reference_summary(row)
            session.delete(row)
            session.flush()
            append_event(
                session, actor=by, action=audit.REFERENCE_REMOVED, target=f"product:{name}", before=before, at=when
            )

    def set_reference_active(
        self, actor: UserInfo, reference_id: int, active: bool, *, now: datetime | None = None
    ) -> ReferenceInfo:
        when = ensure_utc(now or utc_now(), "now")
        with transaction(self._maker, "update the reference image") as session:
            by = acting_row(session, actor, MANAGE_REFERENCES).name
            row = reference_row(session, reference_id)
            before = _reference_summary(row)
            row.active = bool(active)
            session.flush()
            if before["active"] != bool(active):
                name = session.scalar(select(Product.name).where(Product.id == row.product_id)) or ""
                append_event(
                    session,
                    actor=by,
                    action=audit.REFERENCE_ACTIVATED if active else audit.REFERENCE_DEACTIVATED,
                    target=f"product:{name}",
                    before=before,
                    after=_reference_summary(row),
                    at=when,
                )
            return reference_info(row, self.database.store)

    # -- reviews -----------------------------------------------------------------------------------------------
    def mark_for_review(
        self, actor: UserInfo, inspection_id: int, *, note: str | None = None, now: datetime | None = None
    ) -> ReviewInfo:
        """An operator's request that an engineer look at this inspection (labels nothing)."""
        when = ensure_utc(now or utc_now(), "now")
        with transaction(self._maker, "mark the inspection for review") as session:
            by = acting_row(session, actor, MARK_FOR_REVIEW).name
            insp = inspection_row(session, inspection_id)
            row = Review(inspection_id=insp.id, at=when, by=by, label=REVIEW_NEEDS_REVIEW, reason=_optional_text(note))
            session.add(row)
            session.flush()
            append_event(
                session,
                actor=by,
                action=audit.MARKED_FOR_REVIEW,
                target=f"inspection:{insp.id}",
                after={"review_id": row.id, "verdict": insp.verdict},
                reason=row.reason,
                at=when,
            )
            return review_info(row)

    def review(
        self,
        actor: UserInfo,
        inspection_id: int,
        label: str,
        *,
        reason: str | None = None,
        add_as_reference: bool = False,
        reference_move: ThresholdMove | None = None,
        confirmation: SecondConfirmation | None = None,
        now: datetime | None = None,
    ) -> ReviewInfo:
        """Label an inspection ``confirmed_defect`` or ``false_alarm`` by adding a review row.

        The inspection's verdict is never edited; the new row supersedes the label in force. A review that changes
        what the record says about the part (a false alarm on a FAIL, a missed defect on a PASS, or a label
        different from the one in force) is a *relabel*: it needs a reason and is audited as ``relabel``.
        ``add_as_reference`` (false alarms only) also makes the frame a normal reference, which needs the
        ``manage_references`` right too. ``reference_move`` is what the new reference does to the product's
        threshold and its recent failures, as the reviewer's preview measured it (core/reference_preview.py: only
        the station's model can measure it); above the admin's share it needs ``confirmation`` by a second engineer
        or admin, as a threshold override does, else :class:`SecondConfirmationRequired` and nothing is saved.
        """
        if label not in (REVIEW_CONFIRMED_DEFECT, REVIEW_FALSE_ALARM):
            raise ValidationError(f"Unknown review label {label!r}; use confirmed_defect or false_alarm.")
        if add_as_reference and label != REVIEW_FALSE_ALARM:
            raise ValidationError("Only a false alarm's frame can become a normal reference.")
        when = ensure_utc(now or utc_now(), "now")
        guard: dict[str, Any] = {}
        if add_as_reference and reference_move is not None:
            guard = self._guard_reference_move(actor, reference_move, confirmation)
        with transaction(self._maker, "save the review") as session:
            by = acting_row(session, actor, REVIEW).name
            if add_as_reference:
                acting_row(session, actor, MANAGE_REFERENCES)
            insp = inspection_row(session, inspection_id)
            if label == REVIEW_FALSE_ALARM and insp.verdict != "FAIL":
                raise ValidationError(
                    f"Inspection #{insp.id} passed, so it cannot be a false alarm. Use 'confirm defect' if the part was bad."
                )
            previous = label_in_force(session, insp.id)
            said = _outcome(previous.label if previous is not None else insp.verdict)
            relabel = _outcome(label) != said
            why = require_reason(reason, f"relabelling inspection #{insp.id}") if relabel else _optional_text(reason)
            row = Review(
                inspection_id=insp.id,
                at=when,
                by=by,
                label=label,
                reason=why,
                supersedes_id=previous.id if previous is not None else None,
                added_reference=bool(add_as_reference),
            )
            session.add(row)
            session.flush()
            # the history's review columns show the label in force; the verdict column is left as recorded
            insp.review_status, insp.reviewed_by, insp.reviewed_at, insp.review_note = label, by, when, why
            append_event(
                session,
                actor=by,
                action=audit.RELABELLED if relabel else audit.REVIEWED,
                target=f"inspection:{insp.id}",
                before={
                    "verdict": insp.verdict,
                    "label": previous.label if previous is not None else None,
                    "review_id": previous.id if previous is not None else None,
                },
                after={"label": label, "review_id": row.id, "add_as_reference": bool(add_as_reference), **guard},
                reason=why,
                at=when,
            )
            if add_as_reference:
                product = product_row(session, insp.product_id)

                def from_frame(existing: ReferenceImage | None) -> ReferenceImage:
                    # the frame is already in the store (content-addressed): the reference row points at that file
                    if existing is not None:
                        existing.active = True
                        return existing
                    row = ReferenceImage(
                        product_id=product.id,
                        image_path=insp.image_path,
                        image_sha256=insp.image_sha256,
                        width=insp.width,
                        height=insp.height,
                        added_at=when,
                        source="false_alarm",
                        original_name=f"inspection #{insp.id}",
                        active=True,
                    )
                    session.add(row)
                    return row

                _activate_reference(session, by, product, insp.image_sha256, from_frame, when, reason=why)
            return review_info(row)

    def confirm_defect(
        self, actor: UserInfo, inspection_id: int, *, reason: str | None = None, now: datetime | None = None
    ) -> ReviewInfo:
        return self.review(actor, inspection_id, REVIEW_CONFIRMED_DEFECT, reason=reason, now=now)

    def mark_false_alarm(
        self,
        actor: UserInfo,
        inspection_id: int,
        *,
        reason: str | None,
        add_as_reference: bool = False,
        reference_move: ThresholdMove | None = None,
        confirmation: SecondConfirmation | None = None,
        now: datetime | None = None,
    ) -> ReviewInfo:
        return self.review(
            actor,
            inspection_id,
            REVIEW_FALSE_ALARM,
            reason=reason,
            add_as_reference=add_as_reference,
            reference_move=reference_move,
            confirmation=confirmation,
            now=now,
        )

    # -- export ------------------------------------------------------------------------------------------------
    def export_history_csv(self, actor: UserInfo, f: HistoryFilter | None, path: str | os.PathLike[str]) -> int:
        """Write the history export (db/history.py) and record who exported what. Should the event not be written
        (database busy), the file is removed again and the error raised: no export without its event."""
        self.check(actor, EXPORT)
        f = f or HistoryFilter()
        target = Path(path)
        n = self.database.history.export_csv(f, target)
        try:
            with transaction(self._maker, "record the export") as session:
                by = acting_row(session, actor, EXPORT).name
                append_event(
                    session,
                    actor=by,
                    action=audit.EXPORTED,
                    target=f"file:{target.name}",
                    after={"path": str(target.resolve()), "rows": n, "filter": asdict(f)},
                )
        except BaseException:
            try:
                target.unlink()
            except OSError:
                pass
            raise
        return n

    # -- station settings --------------------------------------------------------------------------------------
    def get_station_setting(self, key: str, default: Any = None) -> Any:
        with reading(self._maker, "read the station settings") as session:
            row = session.get(StationSetting, str(key))
            return copy.deepcopy(row.value) if row is not None else default

    def set_station_setting(self, actor: UserInfo, key: str, value: Any, *, now: datetime | None = None) -> None:
        key = " ".join(str(key or "").split())
        if not key or len(key) > 100:
            raise ValidationError("A station setting needs a name of 1 to 100 characters.")
        if key == IDLE_LOGOUT_SETTING and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0
        ):
            raise ValidationError("The idle logout time must be a positive number of seconds.")
        if key == THRESHOLD_GUARD_SETTING:
            try:
                value = check_guard_share(value)
            except ValueError as exc:
                raise ValidationError(f"The threshold guard share: {exc}.") from exc
        when = ensure_utc(now or utc_now(), "now")
        value = audit.json_value(value)
        with transaction(self._maker, "save the station setting") as session:
            by = acting_row(session, actor, STATION_SETTINGS).name
            row = session.get(StationSetting, key)
            before = copy.deepcopy(row.value) if row is not None else None
            if row is None:
                row = StationSetting(key=key, value=value, updated_at=when, updated_by=by)
                session.add(row)
            else:
                row.value, row.updated_at, row.updated_by = value, when, by
            session.flush()
            append_event(
                session,
                actor=by,
                action=audit.SETTING_CHANGED,
                target=f"setting:{key}",
                before={"value": before},
                after={"value": value},
                at=when,
            )


__all__ = ["DEFAULT_IDLE_LOGOUT_S", "IDLE_LOGOUT_SETTING", "GuardedDatabase", "require_reason"]
