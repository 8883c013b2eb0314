import Foundation
import Testing
@testable import ReformerModel
import TensorCore

@Suite struct SafetensorsTests {
    @Test func roundTripKeepsNamesShapesValuesAndMetadata() throws {
        var g = SeededGenerator(seed: 1)
        let tensors = ["a.weight": Tensor(randomNormal: [3, 5], std: 1, generator: &g),
                       "b": Tensor(randomNormal: [7], std: 1, generator: &g),
                       "empty": Tensor(zeros: [0, 4])]
        let data = try Safetensors.encode(tensors, metadata: ["format": "vidformer"])
        // Header length is little-endian and the data starts 8-byte aligned.
        let length = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect((8 + length) % 8 == 0)
        let (back, metadata) = try Safetensors.decode(data)
        #expect(back == tensors)
        #expect(metadata == ["format": "vidformer"])
    }

    @Test(arguments: [
        (Data(), "too short"),
        (Data([255, 255, 255, 255, 0, 0, 0, 0]), "exceeds the file"),
        (Data([2, 0, 0, 0, 0, 0, 0, 0]) + Data("[]".utf8), "not a JSON object"),
    ])
    func malformedHeadersAreRejected(data: Data, reason: String) {
        do {
            _ = try Safetensors.decode(data)
            Issue.record("accepted a malformed file")
        } catch {
            #expect("\(error)".contains(reason), "\(error)")
        }
    }

    @Test func offsetsAndShapesAreChecked() throws {
        func file(_ header: String, body: Int) -> Data {
            var d = Data()
            var n = UInt64(header.utf8.count).littleEndian
            withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
            return d + Data(header.utf8) + Data(repeating: 0, count: body)
        }
        #expect(throws: Safetensors.FormatError.self) {
            try Safetensors.decode(file(#"{"x":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]}}"#, body: 16))
        }
        #expect(throws: Safetensors.FormatError.self) {
            try Safetensors.decode(file(#"{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, body: 8))
        }
        #expect(throws: Safetensors.FormatError.self) {
            try Safetensors.decode(file(#"{"x":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}"#, body: 8))
        }
        let ok = try Safetensors.decode(file(#"{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, body: 16))
        #expect(ok.tensors["x"]?.shape == [4])
    }

    @Test func loadingChecksNamesAndShapes() throws {
        var g = SeededGenerator(seed: 2)
        let layer = Linear("l", 3, 4, generator: &g)
        var tensors = layer.namedTensors
        tensors["l.weight"] = Tensor(zeros: [4, 3])
        #expect(throws: Safetensors.FormatError.self) { try layer.load(tensors) }
        tensors = layer.namedTensors
        tensors["stray"] = Tensor(zeros: [1])
        #expect(throws: Safetensors.FormatError.self) { try layer.load(tensors) }
        tensors = layer.namedTensors
        tensors["l.bias"] = Tensor(shape: [4], scalars: [0, .nan, 0, 0])
        #expect(throws: Safetensors.FormatError.self) { try layer.load(tensors) }
    }
}
