import TensorCore

/// A trainable tensor with its gradient, known by a stable dotted name (`blocks.3.attn.wqk`)
/// that is also its safetensors key.
public final class Parameter {
    public let name: String
    public var value: Tensor
    public var grad: Tensor

    public init(_ name: String, _ value: Tensor) {
        self.name = name
        self.value = value
        grad = Tensor(zeros: value.shape)
    }

    public func zeroGrad() {
        grad.withUnsafeMutableBufferPointer { g in g.update(repeating: 0) }
    }
}

/// Anything with parameters.
public protocol ParameterContainer: AnyObject {
    var parameters: [Parameter] { get }
}

extension ParameterContainer {
    public func zeroGrads() { for p in parameters { p.zeroGrad() } }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }
}

/// Read access to several arrays' base pointers at once.
@inlinable
func withPointers<R>(_ a: [Float], _ b: [Float], _ body: (UnsafePointer<Float>, UnsafePointer<Float>) -> R) -> R {
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in body(pa.baseAddress!, pb.baseAddress!) } }
}
