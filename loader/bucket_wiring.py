"""S3 bucket notifications for configured prefixes: what `bucket wire` / `unwire` write.

Pure decisions first (the rule a prefix needs, whether two rules overlap, the merged whole
configuration), then the two operator verbs, which read a bucket's configuration through its
adapter (loader/adapters/bucket_notifications.py), decide, and write it back. S3 keeps one
notification configuration per bucket and `PutBucketNotificationConfiguration` replaces all of it,
so wiring reads it, changes only the loader's own rule (Id `s3-redshift-loader:<prefix>`), and
writes the rest back as read (queue, topic and function rules of others, EventBridge).

Fixed against the original's setup: a bucket-root configuration gets no prefix filter (not "/"),
and a Hive-wildcard prefix gets its literal part (`events/dt=*` -> `events/dt=`, not a literal
`*`), because S3 filters are literal prefixes. Overlapping rules are refused here with the rule
named, instead of S3's opaque "Configurations overlap" error.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from config.models import normalise_prefix
from loader.decisions import listing_root
from loader.errors import WiringError

if TYPE_CHECKING:
    from loader.adapters.bucket_notifications import BucketNotifications

RULE_ID_PREFIX = "s3-redshift-loader:"
DEFAULT_EVENTS = ("s3:ObjectCreated:*",)


class Kind(StrEnum):
    QUEUE = "queue"
    FUNCTION = "function"
    TOPIC = "topic"


# kind -> (section of the configuration, ARN field, service in the ARN)
_WIRE = {
    Kind.QUEUE: ("QueueConfigurations", "QueueArn", "sqs"),
    Kind.FUNCTION: ("LambdaFunctionConfigurations", "LambdaFunctionArn", "lambda"),
    Kind.TOPIC: ("TopicConfigurations", "TopicArn", "sns"),
}
SECTIONS = tuple(section for section, _, _ in _WIRE.values())


# --- pure decisions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One notification rule, in our terms."""

    kind: Kind
    destination: str
    events: tuple[str, ...]
    prefix: str = ""
    suffix: str = ""
    id: str | None = None

    @property
    def loader_prefix(self) -> str | None:
        """The configured prefix, when this is a rule `bucket wire` wrote."""
        if self.id and self.id.startswith(RULE_ID_PREFIX):
            return self.id.removeprefix(RULE_ID_PREFIX)
        return None

    def same_delivery(self, other: Rule) -> bool:
        """Same destination, events and filter (whatever the Ids)."""
        return (self.kind, self.destination, self.prefix, self.suffix) == (
            other.kind,
            other.destination,
            other.prefix,
            other.suffix,
        ) and set(self.events) == set(other.events)

    def describe(self) -> str:
        where = f"prefix {self.prefix!r}" if self.prefix else "the whole bucket"
        if self.suffix:
            where += f", suffix {self.suffix!r}"
        return f"rule {self.id or '(no id)'}: {self.kind} {self.destination}, {where}, " + (
            ", ".join(self.events)
        )

    def to_wire(self) -> dict[str, Any]:
        _, arn_field, _ = _WIRE[self.kind]
        raw: dict[str, Any] = {arn_field: self.destination, "Events": list(self.events)}
        if self.id:
            raw = {"Id": self.id, **raw}
        pairs = (("prefix", self.prefix), ("suffix", self.suffix))
        rules = [{"Name": name, "Value": value} for name, value in pairs if value]
        if rules:  # no filter at all for a bucket root (S3 rejects an empty prefix value)
            raw["Filter"] = {"Key": {"FilterRules": rules}}
        return raw


def rule_id(prefix: str) -> str:
    return RULE_ID_PREFIX + normalise_prefix(prefix)


def rule_id_of(rule: Rule) -> str:
    if rule.id is None:
        raise WiringError("the loader's rules carry an Id")
    return rule.id


def kind_of(arn: str) -> Kind:
    """The destination kind named by an ARN (`arn:<partition>:sqs|lambda|sns:...`)."""
    parts = arn.split(":")
    service = parts[2] if len(parts) > 5 and parts[0] == "arn" else ""
    for kind, (_, _, name) in _WIRE.items():
        if service == name:
            return kind
    raise WiringError(f"{arn!r} is not an SQS queue, Lambda function or SNS topic ARN")


def rule_for(
    prefix: str, destination: str, events: Sequence[str] = DEFAULT_EVENTS, suffix: str = ""
) -> Rule:
    """The rule that announces a configured prefix's objects: filtered on the literal part of
    the prefix (none for a bucket root), identified as the loader's own."""
    bad = [e for e in events if not e.startswith("s3:")]
    if bad or not events:
        raise WiringError(f"event types look like s3:ObjectCreated:*, not {bad or 'nothing'}")
    _, key_prefix = listing_root(prefix)
    return Rule(
        kind=kind_of(destination),
        destination=destination,
        events=tuple(dict.fromkeys(events)),
        prefix=key_prefix,
        suffix=suffix,
        id=rule_id(prefix),
    )


def _from_wire(kind: Kind, raw: dict[str, Any]) -> Rule:
    _, arn_field, _ = _WIRE[kind]
    filters = {
        str(r.get("Name", "")).lower(): str(r.get("Value", ""))
        for r in raw.get("Filter", {}).get("Key", {}).get("FilterRules", [])
    }
    return Rule(
        kind=kind,
        destination=str(raw.get(arn_field, "")),
        events=tuple(raw.get("Events", [])),
        prefix=filters.get("prefix", ""),
        suffix=filters.get("suffix", ""),
        id=raw.get("Id"),
    )


def rules_of(configuration: dict[str, Any]) -> list[Rule]:
    """Every queue, function and topic rule of a bucket's notification configuration."""
    return [
        _from_wire(kind, raw)
        for kind, (section, _, _) in _WIRE.items()
        for raw in configuration.get(section) or []
    ]


def _events_overlap(a: Iterable[str], b: Iterable[str]) -> bool:
    """`s3:ObjectCreated:*` covers `s3:ObjectCreated:Put`; equal names overlap."""

    def covers(x: str, y: str) -> bool:
        return x == y or (x.endswith("*") and y.startswith(x[:-1]))

    return any(covers(x, y) or covers(y, x) for x in a for y in b)


def overlaps(a: Rule, b: Rule) -> bool:
    """Could one object event match both rules? S3 refuses such a pair in one configuration."""
    prefixes = a.prefix.startswith(b.prefix) or b.prefix.startswith(a.prefix)
    suffixes = a.suffix.endswith(b.suffix) or b.suffix.endswith(a.suffix)
    return prefixes and suffixes and _events_overlap(a.events, b.events)


class Action(StrEnum):
    """What wiring or unwiring does to the loader's rule of a prefix."""

    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REMOVED = "removed"
    ABSENT = "absent"


class Coverage(StrEnum):
    """How a configured prefix's new objects are announced by a bucket's rules."""

    WIRED = "wired"
    """Some rule announces every object created under the prefix."""
    PARTIAL = "partial"
    """Only some creation events, or only some keys (a suffix)."""
    NOT_WIRED = "not wired"


@dataclass(frozen=True)
class Change:
    """What wiring or unwiring decided: the whole configuration to write (None: nothing to do)."""

    action: Action
    rule: Rule | None
    configuration: dict[str, Any] | None = None
    replaced: list[Rule] = field(default_factory=list)
    note: str | None = None


def _without(configuration: dict[str, Any], ids: set[str]) -> dict[str, Any]:
    """The configuration as read, minus the rules with these Ids (and empty sections)."""
    kept: dict[str, Any] = {}
    for key, value in configuration.items():
        if key == "ResponseMetadata":
            continue
        if key in SECTIONS:
            rules = [r for r in value or [] if r.get("Id") not in ids]
            if rules:
                kept[key] = rules
        else:
            kept[key] = value  # EventBridgeConfiguration and anything S3 adds later
    return kept


def plan_wire(configuration: dict[str, Any], rule: Rule, replace: Sequence[str] = ()) -> Change:
    """Add (or update) the loader's rule, keeping every other rule; refuse overlaps. `replace`
    names rules to drop in the same write (e.g. the original loader's rule for this prefix)."""
    existing = rules_of(configuration)
    ids = {r.id for r in existing}
    missing = sorted(set(replace) - ids)
    if missing:
        raise WiringError(f"no rule with Id {', '.join(missing)} on this bucket (`bucket show`)")
    ours = next((r for r in existing if r.id == rule.id), None)
    if ours is not None and ours.same_delivery(rule) and not replace:
        return Change(Action.UNCHANGED, rule)
    twin = next((r for r in existing if r.id != rule.id and r.same_delivery(rule)), None)
    if twin is not None and ours is None and not replace:
        note = f"{twin.describe()} already delivers these events (not a loader rule: kept as is)"
        return Change(Action.UNCHANGED, twin, note=note)
    dropped = {rule_id_of(rule), *replace}
    conflicts = [r for r in existing if r.id not in dropped and overlaps(r, rule)]
    if conflicts:
        raise WiringError(
            "S3 would reject this rule: it overlaps (same event types, overlapping prefix and "
            "suffix) with\n  "
            + "\n  ".join(r.describe() for r in conflicts)
            + "\nRemove or narrow that rule, or replace it in the same write with --replace ID."
        )
    merged = _without(configuration, dropped)
    section, _, _ = _WIRE[rule.kind]
    merged[section] = [*merged.get(section, []), rule.to_wire()]
    replaced = [r for r in existing if r.id in set(replace)]
    return Change(Action.UPDATED if ours else Action.ADDED, rule, merged, replaced)


def plan_unwire(configuration: dict[str, Any], prefix: str) -> Change:
    """Remove only the loader's rule for this prefix."""
    wanted = rule_id(prefix)
    ours = next((r for r in rules_of(configuration) if r.id == wanted), None)
    if ours is None:
        return Change(Action.ABSENT, None)
    return Change(Action.REMOVED, ours, _without(configuration, {wanted}))


def coverage(prefix: str, rules: Sequence[Rule]) -> tuple[Coverage, list[Rule]]:
    """How a configured prefix's new objects are announced by these rules, with the rules
    concerned."""
    _, root = listing_root(prefix)
    created = [
        r
        for r in rules
        if (root.startswith(r.prefix) or r.prefix.startswith(root))
        and _events_overlap(r.events, DEFAULT_EVENTS)
    ]
    full = [
        r
        for r in created
        if root.startswith(r.prefix) and not r.suffix and set(DEFAULT_EVENTS) <= set(r.events)
    ]
    if full:
        return Coverage.WIRED, full
    return (Coverage.PARTIAL, created) if created else (Coverage.NOT_WIRED, [])


# --- the operator's verbs -----------------------------------------------------------------------


def wire(
    notifications: BucketNotifications, prefix: str, rule: Rule, replace: Sequence[str] = ()
) -> Change:
    """Read the bucket's configuration, add (or update) the loader's rule, write it back."""
    bucket = normalise_prefix(prefix).split("/", 1)[0]
    change = plan_wire(notifications.read(bucket), rule, replace)
    if change.configuration is not None:
        notifications.write(bucket, change.configuration)
        # No conditional write exists for this API: read back to catch a concurrent writer.
        if not any(r.id == rule.id for r in rules_of(notifications.read(bucket))):
            raise WiringError(
                f"rule {rule.id} is missing after the write: another change to the bucket's "
                "notifications raced with this one; run the command again"
            )
    return change


def unwire(notifications: BucketNotifications, prefix: str) -> Change:
    """Remove the loader's rule for this prefix, keeping every other rule."""
    bucket = normalise_prefix(prefix).split("/", 1)[0]
    change = plan_unwire(notifications.read(bucket), prefix)
    if change.configuration is not None:
        notifications.write(bucket, change.configuration)
    return change
