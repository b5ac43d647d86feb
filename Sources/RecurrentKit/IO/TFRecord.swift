// TFRecord framing, the container of TensorBoard's event files: each record is its length
// (uint64, little-endian), the masked CRC-32C of those 8 bytes, the data, and the masked
// CRC-32C of the data. CRC-32C is the Castagnoli polynomial (reflected 0x82F63B78); the mask
// rotates right by 15 and adds 0xA282EAD8.
import Foundation

/// Writes and reads TFRecord-framed records.
public enum TFRecord {
    private static let table: [UInt32] = (0..<256).map { i in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    /// CRC-32C of `bytes` (the check value of "123456789" is 0xE3069283).
    public static func crc32c<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xA282EAD8.
    public static func maskedCRC32C<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        let crc = crc32c(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    /// One framed record.
    public static func frame(_ data: Data) -> Data {
        var out = Data()
        var length = UInt64(data.count).littleEndian
        let lengthBytes = withUnsafeBytes(of: &length) { Data($0) }
        out.append(lengthBytes)
        var lengthCRC = maskedCRC32C(lengthBytes).littleEndian
        out.append(withUnsafeBytes(of: &lengthCRC) { Data($0) })
        out.append(data)
        var dataCRC = maskedCRC32C(data).littleEndian
        out.append(withUnsafeBytes(of: &dataCRC) { Data($0) })
        return out
    }

    /// The records of a TFRecord file's contents; throws at a truncated record or a CRC mismatch.
    public static func records(in data: Data, source: String) throws -> [Data] {
        let bytes = [UInt8](data)
        var records: [Data] = [], at = 0
        func word32(_ i: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[i + $1]) << (8 * $1) } }
        while at < bytes.count {
            guard at + 12 <= bytes.count else { throw RecurrentError.file(path: source, reason: "record at byte \(at) is truncated") }
            let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * $1) }
            guard maskedCRC32C(bytes[at..<(at + 8)]) == word32(at + 8) else {
                throw RecurrentError.file(path: source, reason: "record at byte \(at): the length's CRC does not match")
            }
            let start = at + 12
            guard length <= UInt64(bytes.count - start - 4) else {
                throw RecurrentError.file(path: source, reason: "record at byte \(at) is truncated (length \(length))")
            }
            let end = start + Int(length)
            guard maskedCRC32C(bytes[start..<end]) == word32(end) else {
                throw RecurrentError.file(path: source, reason: "record at byte \(at): the data's CRC does not match")
            }
            records.append(Data(bytes[start..<end]))
            at = end + 4
        }
        return records
    }
}
