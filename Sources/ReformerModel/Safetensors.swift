import Foundation
import TensorCore

/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON
/// header mapping names to `{dtype, shape, data_offsets}` (plus optional `__metadata__` of
/// strings), then the raw little-endian data. Only F32 is used here.
public enum Safetensors {
    public struct FormatError: Error, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = d }
    }

    /// Serialises tensors (sorted by name) with string metadata.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + t.count * 4]]
            offset += t.count * 4
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad the header with spaces so the data starts 8-byte aligned.
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var data = Data(capacity: 8 + json.count + offset)
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(json)
        for name in names {
            tensors[name]!.withUnsafeBufferPointer { p in
                // Float32 is little-endian on every platform Swift targets here.
                data.append(UnsafeBufferPointer(start: UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: UInt8.self),
                                                count: p.count * 4))
            }
        }
        return data
    }

    /// Parses a safetensors file, checking every offset and shape against the data.
    public static func decode(_ data: Data) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        guard data.count >= 8 else { throw FormatError("file is \(data.count) bytes, too short for a safetensors header") }
        let bytes = [UInt8](data.prefix(8))
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(bytes[i]) << UInt64(8 * i) }
        guard length <= UInt64(data.count - 8), length <= 100_000_000 else {
            throw FormatError("header length \(length) exceeds the file (\(data.count) bytes)")
        }
        let headerBytes = Data(data.dropFirst(8).prefix(Int(length)))
        guard let header = (try? JSONSerialization.jsonObject(with: headerBytes)) as? [String: Any] else {
            throw FormatError("header is not a JSON object")
        }
        let body = 8 + Int(length)
        let bodySize = data.count - body
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: String] else { throw FormatError("__metadata__ is not a map of strings") }
                metadata = m
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2 else {
                throw FormatError("tensor '\(name)' has a malformed entry")
            }
            guard dtype == "F32" else { throw FormatError("tensor '\(name)' is \(dtype); only F32 is supported") }
            guard shape.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }) else { throw FormatError("tensor '\(name)' has a bad shape \(shape)") }
            let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, end >= begin, end <= bodySize, end - begin == count * 4 else {
                throw FormatError("tensor '\(name)' offsets \(offsets) do not fit its shape \(shape) or the file")
            }
            var scalars = [Float](repeating: 0, count: count)
            let from: Int = body + begin
            scalars.withUnsafeMutableBytes { (dst: UnsafeMutableRawBufferPointer) in
                data.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
                    if count > 0 { dst.baseAddress!.copyMemory(from: src.baseAddress! + from, byteCount: count * 4) }
                }
            }
            tensors[name] = Tensor(shape: shape, scalars: scalars)
        }
        return (tensors, metadata)
    }
}

extension ParameterContainer {
    /// Parameters by their dotted names.
    public var namedTensors: [String: Tensor] {
        Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.value) })
    }

    /// Loads values by name; every parameter must be present with its exact shape.
    public func load(_ tensors: [String: Tensor]) throws {
        for p in parameters {
            guard let t = tensors[p.name] else { throw Safetensors.FormatError("missing tensor '\(p.name)'") }
            guard t.shape == p.value.shape else {
                throw Safetensors.FormatError("tensor '\(p.name)' has shape \(t.shape), the model needs \(p.value.shape)")
            }
            guard t.scalars.allSatisfy({ $0.isFinite }) else { throw Safetensors.FormatError("tensor '\(p.name)' holds NaN or infinity") }
            p.value = t
        }
        let known = Set(parameters.map(\.name))
        if let extra = tensors.keys.sorted().first(where: { !known.contains($0) && !$0.hasPrefix("optimizer.") }) {
            throw Safetensors.FormatError("unexpected tensor '\(extra)' (the checkpoint is for another model shape)")
        }
    }
}
