"""PostgreSQL keeps the per-day counts (insights.day_counts): statement-level
triggers with transition tables on messages and deliveries, a function that
counts everything again, and the first count of the rows already there.

Creating a trigger locks its table against writes until this migration's
transaction commits, so no row is written between the first count and the
triggers: the counts start exact. SQLite has no transition tables: nothing is
installed there and the dashboard counts from the rows (day_counts.kept).
"""

from django.db import migrations

# One function per table; TG_OP picks the transition tables the trigger has
# (a trigger with transition tables fires on one event only, so three each).
FUNCTIONS = """
CREATE FUNCTION insights_message_day_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO insights_messagedaycount
            (organization_id, day, topic_id, compacted, sent, read)
        SELECT organization_id, (created_at AT TIME ZONE 'UTC')::date, topic_id,
               false, COUNT(*), COUNT(read_at)
        FROM new_rows WHERE direction = 'out'
        GROUP BY 1, 2, 3;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO insights_messagedaycount
            (organization_id, day, topic_id, compacted, sent, read)
        SELECT organization_id, (created_at AT TIME ZONE 'UTC')::date, topic_id,
               false, -COUNT(*), -COUNT(read_at)
        FROM old_rows WHERE direction = 'out'
        GROUP BY 1, 2, 3;
    ELSE
        INSERT INTO insights_messagedaycount
            (organization_id, day, topic_id, compacted, sent, read)
        SELECT organization_id, day, topic_id, false, SUM(sent), SUM(read)
        FROM (
            SELECT organization_id, (created_at AT TIME ZONE 'UTC')::date AS day,
                   topic_id, 1 AS sent, (read_at IS NOT NULL)::int AS read
            FROM new_rows WHERE direction = 'out'
            UNION ALL
            SELECT organization_id, (created_at AT TIME ZONE 'UTC')::date,
                   topic_id, -1, -(read_at IS NOT NULL)::int
            FROM old_rows WHERE direction = 'out'
        ) AS change
        GROUP BY 1, 2, 3
        HAVING SUM(sent) <> 0 OR SUM(read) <> 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION insights_delivery_day_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO insights_deliverydaycount
            (organization_id, day, channel, status, compacted, deliveries)
        SELECT organization_id, (message_created_at AT TIME ZONE 'UTC')::date,
               channel, status, false, COUNT(*)
        FROM new_rows GROUP BY 1, 2, 3, 4;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO insights_deliverydaycount
            (organization_id, day, channel, status, compacted, deliveries)
        SELECT organization_id, (message_created_at AT TIME ZONE 'UTC')::date,
               channel, status, false, -COUNT(*)
        FROM old_rows GROUP BY 1, 2, 3, 4;
    ELSE
        INSERT INTO insights_deliverydaycount
            (organization_id, day, channel, status, compacted, deliveries)
        SELECT organization_id, day, channel, status, false, SUM(n)
        FROM (
            SELECT organization_id, (message_created_at AT TIME ZONE 'UTC')::date
                   AS day, channel, status, 1 AS n
            FROM new_rows
            UNION ALL
            SELECT organization_id, (message_created_at AT TIME ZONE 'UTC')::date,
                   channel, status, -1
            FROM old_rows
        ) AS change
        GROUP BY 1, 2, 3, 4
        HAVING SUM(n) <> 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION insights_day_counts_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- Writers wait until the caller's transaction ends; readers go on.
    LOCK TABLE messaging_message, messaging_delivery IN SHARE MODE;
    DELETE FROM insights_messagedaycount;
    DELETE FROM insights_deliverydaycount;
    INSERT INTO insights_messagedaycount
        (organization_id, day, topic_id, compacted, sent, read)
    SELECT organization_id, (created_at AT TIME ZONE 'UTC')::date, topic_id,
           true, COUNT(*), COUNT(read_at)
    FROM messaging_message WHERE direction = 'out'
    GROUP BY 1, 2, 3;
    INSERT INTO insights_deliverydaycount
        (organization_id, day, channel, status, compacted, deliveries)
    SELECT organization_id, (message_created_at AT TIME ZONE 'UTC')::date,
           channel, status, true, COUNT(*)
    FROM messaging_delivery GROUP BY 1, 2, 3, 4;
END
$$;
"""

TRIGGERS = [
    (table, function, event, referencing)
    for table, function in (
        ("messaging_message", "insights_message_day_counts"),
        ("messaging_delivery", "insights_delivery_day_counts"),
    )
    for event, referencing in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    )
]


def _name(event: str) -> str:  # a trigger's name is unique per table
    return f"insights_day_counts_{event.lower()}"


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTIONS)
    for table, function, event, referencing in TRIGGERS:
        schema_editor.execute(
            f"CREATE TRIGGER {_name(event)} AFTER {event} ON {table} "
            f"REFERENCING {referencing} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION {function}()"
        )
    schema_editor.execute("SELECT insights_day_counts_rebuild()")


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, _function, event, _referencing in TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER {_name(event)} ON {table}")
    schema_editor.execute(
        "DROP FUNCTION insights_message_day_counts();"
        "DROP FUNCTION insights_delivery_day_counts();"
        "DROP FUNCTION insights_day_counts_rebuild();"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0002_day_counts"),
        ("messaging", "0012_message_delivery_fewer_indexes"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
