// A booking producer in Node.js: each booking message carries its record's externalId as session id.
// bookingMessage() returns what @azure/service-bus's ServiceBusSender.sendMessages takes (docs/producers.md).
import { createHash } from "node:crypto";

// Fixed for ever by the contract (docs/contract.md, "externalId").
const EXTERNAL_ID_NAMESPACE = "ab4977e4-08f1-46c6-8a72-87cec761415d";

/** UUIDv5 (RFC 9562) of "<source>\n<recordId>" (UTF-8) in the contract's namespace: lowercase, with hyphens. */
export function externalId(source, recordId) {
  const namespace = Buffer.from(EXTERNAL_ID_NAMESPACE.replaceAll("-", ""), "hex");
  const hash = createHash("sha1").update(namespace).update(`${source}\n${recordId}`, "utf8").digest();
  hash[6] = (hash[6] & 0x0f) | 0x50; // version 5
  hash[8] = (hash[8] & 0x3f) | 0x80; // the RFC's variant
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The same when the same booking is sent again: "<externalId>:<revision>", or for a booking without revision
 * "<externalId>:<SHA-256 of the body, hex>". */
export function messageId(sessionId, booking, body) {
  const revision = booking.revision ?? createHash("sha256").update(body).digest("hex");
  return `${sessionId}:${revision}`;
}

/** The message for one booking: JSON body as bytes, session id = externalId, its message id. */
export function bookingMessage(booking) {
  const sessionId = externalId(booking.source, booking.recordId);
  // Bytes, not an object: the SDK would otherwise encode the body its own way, not as the JSON the bridge reads.
  const body = Buffer.from(JSON.stringify(booking), "utf8");
  return { body, sessionId, messageId: messageId(sessionId, booking, body), contentType: "application/json" };
}
