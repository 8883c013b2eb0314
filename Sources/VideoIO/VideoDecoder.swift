import CFFmpeg

/// Which frames the decoder may skip before they are decoded at all.
public enum FrameSkipping: Sendable, Equatable {
    /// Decode everything.
    case none
    /// Skip frames nothing else refers to (B-frames in most streams): cheap when sampling sparsely.
    case nonReference
    /// Decode key frames only (`AVDISCARD_NONKEY`): a fast scan.
    case nonKey
}

/// Owns an `AVCodecContext` opened for one video stream; decodes with send/receive only.
final class VideoDecoder {
    let context: UnsafeMutablePointer<AVCodecContext>

    init(stream: UnsafeMutablePointer<AVStream>, threads: Int, skipping: FrameSkipping, name: String) throws {
        let parameters = stream.pointee.codecpar!
        guard let codec = avcodec_find_decoder(parameters.pointee.codec_id) else {
            let codecName = String(cString: avcodec_get_name(parameters.pointee.codec_id))
            throw FFmpegError(.decoder, message: "\(name): no decoder for codec '\(codecName)'")
        }
        guard let ctx = avcodec_alloc_context3(codec) else {
            throw FFmpegError(.decoder, message: "\(name): out of memory")
        }
        context = ctx
        try check(avcodec_parameters_to_context(ctx, parameters), .decoder, "\(name): bad codec parameters")
        ctx.pointee.pkt_timebase = stream.pointee.time_base
        ctx.pointee.thread_count = Int32(max(0, threads))   // 0: FFmpeg picks from the core count
        ctx.pointee.thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE
        switch skipping {
        case .none: break
        case .nonReference: ctx.pointee.skip_frame = AVDISCARD_NONREF
        case .nonKey: ctx.pointee.skip_frame = AVDISCARD_NONKEY
        }
        try check(avcodec_open2(ctx, codec, nil), .decoder, "\(name): cannot open the \(String(cString: codec.pointee.name)) decoder")
    }

    deinit {
        var c: UnsafeMutablePointer<AVCodecContext>? = context
        avcodec_free_context(&c)
    }

    /// Sends a packet (nil flushes). Returns the FFmpeg code; EAGAIN means "receive first".
    func send(_ packet: UnsafeMutablePointer<AVPacket>?) -> Int32 { avcodec_send_packet(context, packet) }

    /// Receives one frame into `frame`; EAGAIN and EOF are the caller's control flow.
    func receive(into frame: UnsafeMutablePointer<AVFrame>) -> Int32 { avcodec_receive_frame(context, frame) }
}

/// An owned `AVFrame`.
final class FrameBox {
    let frame: UnsafeMutablePointer<AVFrame>
    init() { frame = av_frame_alloc()! }
    deinit { var f: UnsafeMutablePointer<AVFrame>? = frame; av_frame_free(&f) }
}

/// An owned `AVPacket`.
final class PacketBox {
    let packet: UnsafeMutablePointer<AVPacket>
    init() { packet = av_packet_alloc()! }
    deinit { var p: UnsafeMutablePointer<AVPacket>? = packet; av_packet_free(&p) }
}
