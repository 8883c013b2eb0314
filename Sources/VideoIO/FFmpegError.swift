import CFFmpeg

/// An FFmpeg failure, carrying FFmpeg's own message and what vidformer was doing.
public struct FFmpegError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Equatable, Sendable {
        case open, noVideoStream, decoder, seek, scale, read, timeout
    }
    public let kind: Kind
    public let code: Int32
    public let message: String

    public init(_ kind: Kind, code: Int32 = 0, message: String) {
        self.kind = kind
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// FFmpeg's text for an error code (`av_make_error_string`).
    public static func text(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(vf_error_buffer_size()))
        av_strerror(code, &buffer, buffer.count)
        return String(cString: buffer)
    }
}

/// Passes non-negative FFmpeg return codes through; turns negative ones into `FFmpegError`.
@discardableResult
func check(_ code: Int32, _ kind: FFmpegError.Kind, _ what: @autoclosure () -> String) throws -> Int32 {
    if code >= 0 { return code }
    throw FFmpegError(kind, code: code, message: "\(what()): \(FFmpegError.text(code))")
}

enum AVCode {
    static let eof = vf_averror_eof()
    static let again = vf_averror_eagain()
    static let invalidData = vf_averror_invaliddata()
    static let noPTS = vf_nopts_value()
}
