/* A narrow C face of libx264 for `chunks::x264`: the Rust side never sees x264's structs,
 * whose layout changes between x264 builds, only this file's plain types. */

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <x264.h>

typedef struct {
    const uint8_t *data;
    int32_t size;
    int64_t pts;
    int64_t dts;
    int32_t keyframe;
} sf_x264_packet;

typedef struct {
    x264_t *encoder;
} sf_x264;

/* Opens an encoder of I420 frames `width`x`height` at `fps` (time base 1/fps, so frame i has
 * pts i), with x264's `preset`, constant quality `crf`, key frames at most `keyint` apart,
 * `threads` threads (0: x264 decides) and the threaded lookahead as x264 decides, with x264's
 * AVX-512 functions only if `avx512` (else its AVX2 ones, where the CPU has them). No VBV:
 * without a maximum rate, x264 leaves it off. BT.709 limited-range colours in the VUI.
 * Returns NULL and a reason in `error` on failure. */
sf_x264 *sf_x264_open(int32_t width, int32_t height, int32_t fps, const char *preset, float crf,
                      int32_t keyint, int32_t threads, int32_t avx512, char *error,
                      size_t error_size)
{
    x264_param_t param;
    if (x264_param_default_preset(&param, preset, NULL) < 0) {
        snprintf(error, error_size, "x264 has no preset `%s`", preset);
        return NULL;
    }
    param.i_log_level = X264_LOG_ERROR;
    param.i_csp = X264_CSP_I420;
    param.i_width = width;
    param.i_height = height;
    param.i_fps_num = (uint32_t)fps;
    param.i_fps_den = 1;
    param.i_timebase_num = 1;
    param.i_timebase_den = (uint32_t)fps;
    /* Constant frame rate: rate control sees frame counts, never timestamps. */
    param.b_vfr_input = 0;
    param.i_keyint_max = keyint;
    param.i_threads = threads;
    if (!avx512)
        param.cpu &= ~(uint32_t)X264_CPU_AVX512;
    param.rc.i_rc_method = X264_RC_CRF;
    param.rc.f_rf_constant = crf;
    param.b_annexb = 1;
    param.b_repeat_headers = 1;
    param.vui.b_fullrange = 0;
    param.vui.i_colorprim = 1;
    param.vui.i_transfer = 1;
    param.vui.i_colmatrix = 1;
    sf_x264 *handle = calloc(1, sizeof(sf_x264));
    if (handle == NULL) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    handle->encoder = x264_encoder_open(&param);
    if (handle->encoder == NULL) {
        free(handle);
        snprintf(error, error_size, "x264 refused the settings (%dx%d at %d fps, preset %s)",
                 width, height, fps, preset);
        return NULL;
    }
    return handle;
}

/* Encodes frame `pts` (planes Y, U, V with their strides), or, with `y` NULL, drains one
 * delayed frame. Returns 1 with `packet` set (valid until the next call), 0 when x264 gave
 * nothing yet, negative on failure. */
int32_t sf_x264_encode(sf_x264 *handle, const uint8_t *y, const uint8_t *u, const uint8_t *v,
                       const int32_t strides[3], int64_t pts, sf_x264_packet *packet)
{
    x264_picture_t in, out;
    x264_picture_t *input = NULL;
    if (y != NULL) {
        x264_picture_init(&in);
        in.img.i_csp = X264_CSP_I420;
        in.img.i_plane = 3;
        /* x264 copies the planes during this call; it never writes them. */
        in.img.plane[0] = (uint8_t *)y;
        in.img.plane[1] = (uint8_t *)u;
        in.img.plane[2] = (uint8_t *)v;
        for (int i = 0; i < 3; i++)
            in.img.i_stride[i] = strides[i];
        in.i_pts = pts;
        input = &in;
    }
    x264_nal_t *nals;
    int nal_count;
    int size = x264_encoder_encode(handle->encoder, &nals, &nal_count, input, &out);
    if (size < 0)
        return -1;
    if (size == 0)
        return 0;
    /* x264 writes an access unit's NAL units one after another in one buffer. */
    packet->data = nals[0].p_payload;
    packet->size = size;
    packet->pts = out.i_pts;
    packet->dts = out.i_dts;
    packet->keyframe = out.b_keyframe;
    return 1;
}

/* Frames x264 holds that a drain would still give. */
int32_t sf_x264_delayed_frames(sf_x264 *handle)
{
    return x264_encoder_delayed_frames(handle->encoder);
}

void sf_x264_close(sf_x264 *handle)
{
    if (handle != NULL) {
        x264_encoder_close(handle->encoder);
        free(handle);
    }
}
