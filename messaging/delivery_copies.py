"""What a Delivery copies from its Message when it is written.

``Delivery.organization`` and ``message_created_at`` repeat the message's
organization and creation time, so the KPI dashboard counts a period's
deliveries per channel from one index without joining messages
(``insights.kpis.deliveries.delivery_and_read_rates``). ``DeliveryQuerySet.bulk_create``
and ``Delivery.save`` call this; the campaign ``COPY`` writer writes the two
columns itself.
"""

from __future__ import annotations


def copy_message_fields(deliveries) -> None:
    """Copy each delivery's message organization and creation time onto it
    (``Delivery.organization``, ``message_created_at``) where not yet set:
    from the message instance when it is at hand, else in one query.

    The models come from the deliveries themselves (``messaging.models``
    imports this module)."""
    missing = [d for d in deliveries if d.message_created_at is None]
    if not missing:
        return
    to_message = type(missing[0]).message  # Delivery.message
    unloaded = {d.message_id for d in missing if not to_message.is_cached(d)}
    found = {}
    if unloaded:
        rows = to_message.field.related_model.objects.filter(pk__in=unloaded)
        for pk, organization_id, created_at in rows.values_list(
            "pk", "organization_id", "created_at"
        ):
            found[pk] = (organization_id, created_at)
    for delivery in missing:
        if to_message.is_cached(delivery):
            message = delivery.message
            organization_id, created_at = message.organization_id, message.created_at
        else:
            organization_id, created_at = found[delivery.message_id]
        delivery.organization_id = organization_id
        delivery.message_created_at = created_at
