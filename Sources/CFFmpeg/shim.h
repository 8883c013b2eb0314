#ifndef VIDFORMER_CFFMPEG_SHIM_H
#define VIDFORMER_CFFMPEG_SHIM_H

#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/avutil.h>
#include <libavutil/display.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libavutil/log.h>
#include <errno.h>

/* Macros Swift cannot import, as functions. */
static inline int vf_averror(int e) { return AVERROR(e); }
static inline int vf_averror_eof(void) { return AVERROR_EOF; }
static inline int vf_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int vf_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
static inline int vf_averror_exit(void) { return AVERROR_EXIT; }
static inline int64_t vf_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline int vf_error_buffer_size(void) { return AV_ERROR_MAX_STRING_SIZE; }

/* Rotation in degrees (counter-clockwise, as av_display_rotation_get reports) from the
   stream's display matrix, or 0 when there is none. Newer FFmpeg moved stream side data
   into codecpar; the version test keeps both building without deprecated calls. */
static inline double vf_stream_rotation(const AVStream *st) {
    const uint8_t *m = NULL;
#if LIBAVFORMAT_VERSION_MAJOR >= 61
    const AVPacketSideData *sd = av_packet_side_data_get(st->codecpar->coded_side_data,
        st->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX);
    if (sd && sd->size >= 9 * 4) m = sd->data;
#else
    size_t size = 0;
    m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (size < 9 * 4) m = NULL;
#endif
    if (!m) return 0;
    double r = av_display_rotation_get((const int32_t *)m);
    return r != r ? 0 : r; /* NaN for a degenerate matrix */
}

/* Whether a decoded frame is a key frame, across the flags/field change of FFmpeg 6. */
static inline int vf_frame_is_key(const AVFrame *f) {
#if LIBAVUTIL_VERSION_MAJOR >= 58
    return (f->flags & AV_FRAME_FLAG_KEY) != 0;
#else
    return f->key_frame != 0;
#endif
}

/* Silence libav*'s own logging; vidformer reports errors itself. */
static inline void vf_quiet_logs(void) { av_log_set_level(AV_LOG_QUIET); }

#endif
