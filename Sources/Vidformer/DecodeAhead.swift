import Foundation
import VideoIO

/// Decodes on a thread of its own, a few sampled frames ahead of the consumer, so that
/// tokenising, embedding and the model's windows run while FFmpeg keeps decoding instead of
/// after it. The queue is bounded (a sampled frame is a few KB), so memory stays flat; the
/// source is touched only by the decoding thread until `join()` returns.
final class DecodeAhead: @unchecked Sendable {
    private let source: FrameSource
    private let capacity: Int
    private let condition = NSCondition()
    private var queue: [SampledFrame] = []
    private var head = 0
    private var finished = false
    private var stopped = false
    private var failure: Error?

    init(_ source: FrameSource, capacity: Int = 64) {
        self.source = source
        self.capacity = max(1, capacity)
        let thread = Thread { [self] in produce() }
        thread.name = "vidformer-decode"
        thread.stackSize = 4 << 20
        thread.start()
    }

    private func produce() {
        do {
            while let frame = try source.next() {
                condition.lock()
                while queue.count - head >= capacity && !stopped { condition.wait() }
                let stop = stopped
                if !stop { queue.append(frame) }
                condition.broadcast()
                condition.unlock()
                if stop { break }
            }
        } catch {
            condition.lock()
            failure = error
            condition.unlock()
        }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next sampled frame in order; nil at the end; rethrows the decoder's error after the
    /// frames that came before it.
    func next() throws -> SampledFrame? {
        condition.lock()
        defer { condition.unlock() }
        while head == queue.count && !finished { condition.wait() }
        if head < queue.count {
            let frame = queue[head]
            head += 1
            if head >= capacity { queue.removeFirst(head); head = 0 }
            condition.broadcast()
            return frame
        }
        if let failure { throw failure }
        return nil
    }

    /// Stops decoding (if it has not ended) and waits for the thread; after this the source
    /// may be read again (its stats) from the calling thread.
    func join() {
        condition.lock()
        stopped = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }
}
