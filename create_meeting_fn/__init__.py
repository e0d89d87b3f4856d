"""The Service Bus-triggered function: adapts the host's message to the pipeline and back.

Returning normally completes the message (autoCompleteMessages in host.json); raising
abandons it, so Service Bus redelivers it until maxDeliveryCount and then dead-letters it.
The queue requires sessions (session id = the record's externalId): the host holds one
record's session on one invocation at a time, so a record's bookings apply in order.
The invocation's trace context (`context.trace_context`, which the host continues from the
message's Diagnostic-Id) becomes the parent of the booking's spans: one trace per booking.
"""

from __future__ import annotations

import azure.functions as func

from shared.inbound import InboundMessage
from shared.runtime import handle
from shared.settings import BOOKINGS_QUEUE, SERVICE_BUS_CONNECTION

blueprint = func.Blueprint()


@blueprint.function_name("create_meeting")
@blueprint.service_bus_queue_trigger(
    arg_name="message",
    queue_name=f"%{BOOKINGS_QUEUE}%",
    connection=SERVICE_BUS_CONNECTION,
    is_sessions_enabled=True,
)
def create_meeting(message: func.ServiceBusMessage, context: func.Context) -> None:
    """One booking message in, one result message out (or an exception for redelivery)."""
    trace_context = context.trace_context
    handle(
        InboundMessage(
            body=message.get_body(),
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            delivery_count=message.delivery_count,
            session_id=message.session_id,
            application_properties=message.application_properties or {},
            trace_parent=trace_context.trace_parent or None,
            trace_state=trace_context.trace_state or None,
        )
    )
