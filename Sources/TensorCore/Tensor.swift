/// A dense row-major Float32 array with a shape.
///
/// Copy-on-write through the underlying `Array`; raw pointers exist only inside the
/// `withUnsafe…` closures, so nothing escapes that could dangle.
public struct Tensor: Equatable, Sendable {
    public private(set) var shape: [Int]
    public var scalars: [Float]

    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.reduce(1, *) == scalars.count, "shape \(shape) does not hold \(scalars.count) scalars")
        self.shape = shape
        self.scalars = scalars
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// Normal(0, std²) entries from a seeded generator.
    public init(randomNormal shape: [Int], std: Float, generator: inout SeededGenerator) {
        let n = shape.reduce(1, *)
        var values = [Float](repeating: 0, count: n)
        for i in 0..<n { values[i] = Float(generator.nextNormal()) * std }
        self.init(shape: shape, scalars: values)
    }

    public var count: Int { scalars.count }
    public var rank: Int { shape.count }
    /// Rows when viewed as a matrix whose columns are the last axis.
    public var rows: Int { shape.count <= 1 ? 1 : count / (shape.last ?? 1) }
    public var columns: Int { shape.last ?? 1 }

    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }

    public subscript(index: Int) -> Float {
        get { scalars[index] }
        set { scalars[index] = newValue }
    }

    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer(body)
    }

    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer(body)
    }

    /// Rows `start..<end` of the matrix view.
    public func rows(_ range: Range<Int>) -> Tensor {
        let c = columns
        var newShape = [range.count, c]
        if shape.count == 1 { newShape = [range.count * c] }
        return Tensor(shape: newShape, scalars: Array(scalars[(range.lowerBound * c)..<(range.upperBound * c)]))
    }
}
