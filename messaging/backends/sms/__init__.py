"""SMS backends on providers' REST APIs: ``twilio``, ``sinch``, and
``failover`` (a primary provider with a secondary for transient failures).

Development backends (console, file, locmem, outbox) live one level up and
serve every channel.
"""
