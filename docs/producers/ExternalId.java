import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.UUID;

/**
 * The externalId the bridge derives for a source record: UUIDv5 (RFC 9562) of "source\nrecordId" (UTF-8) in the
 * contract's namespace. java.util.UUID makes version 3 (MD5) name-based UUIDs only, so version 5 is built here.
 */
public final class ExternalId {
    // Fixed for ever by the contract (docs/contract.md, "externalId").
    private static final UUID NAMESPACE = UUID.fromString("ab4977e4-08f1-46c6-8a72-87cec761415d");

    private ExternalId() {
    }

    /** Lowercase, with hyphens: the session id of every booking message of this record. */
    public static String of(String source, String recordId) {
        MessageDigest sha1;
        try {
            sha1 = MessageDigest.getInstance("SHA-1");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform provides SHA-1", e);
        }
        sha1.update(ByteBuffer.allocate(16)
                .putLong(NAMESPACE.getMostSignificantBits())
                .putLong(NAMESPACE.getLeastSignificantBits())
                .array());
        byte[] hash = sha1.digest((source + "\n" + recordId).getBytes(StandardCharsets.UTF_8));
        hash[6] = (byte) ((hash[6] & 0x0f) | 0x50); // version 5
        hash[8] = (byte) ((hash[8] & 0x3f) | 0x80); // the RFC's variant
        ByteBuffer bytes = ByteBuffer.wrap(hash, 0, 16);
        return new UUID(bytes.getLong(), bytes.getLong()).toString();
    }
}
