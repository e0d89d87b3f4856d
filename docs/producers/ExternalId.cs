using System;
using System.Security.Cryptography;
using System.Text;

/// <summary>
/// The externalId the bridge derives for a source record: UUIDv5 (RFC 9562) of "source\nrecordId" (UTF-8) in the
/// contract's namespace. .NET has no name-based Guid, and System.Guid keeps its first three fields little-endian,
/// so the bytes are hashed and formatted in the RFC's order here, never through new Guid(bytes). Needs .NET 5 or later.
/// </summary>
public static class ExternalId
{
    // Fixed for ever by the contract (docs/contract.md, "externalId"), in the RFC's byte order.
    private static readonly byte[] Namespace = Convert.FromHexString("ab4977e408f146c68a7287cec761415d");

    /// <summary>Lowercase, with hyphens: the session id of every booking message of this record.</summary>
    public static string Of(string source, string recordId)
    {
        byte[] name = Encoding.UTF8.GetBytes(source + "\n" + recordId);
        byte[] input = new byte[Namespace.Length + name.Length];
        Namespace.CopyTo(input, 0);
        name.CopyTo(input, Namespace.Length);
        byte[] hash = SHA1.HashData(input);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50); // version 5
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80); // the RFC's variant
        string hex = Convert.ToHexString(hash, 0, 16).ToLowerInvariant();
        return $"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..]}";
    }
}
