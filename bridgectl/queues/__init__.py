"""`send`, `results` and `dlq`: the command line over the real queues (or the local emulator).

    python -m bridgectl send samples/01-new-booking.json --namespace contoso-bookings.servicebus.windows.net
    python -m bridgectl results --status failed --format table
    python -m bridgectl dlq list
    python -m bridgectl dlq replay --reason MaxDeliveryCountExceeded --dry-run

The pure parts (validation, message ids, filters, the replay copy, tables, error wording) are
apart from the few functions that talk to Service Bus, so they are tested without a namespace.
Nothing is settled before the step that makes settling safe has succeeded: `results --receive`
completes a result only after printing it, `dlq replay` completes a dead-lettered booking only
after its copy was sent, and every other message received is abandoned, never lost.
"""

from __future__ import annotations

from bridgectl.queues.commands import add_queue_commands

__all__ = ["add_queue_commands"]
