/* error.c - status names and the error-recording helper. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const status_names[HLZ_STATUS_COUNT] = {
    [HLZ_OK] = "ok",
    [HLZ_ERR_IO] = "io",
    [HLZ_ERR_NOMEM] = "nomem",
    [HLZ_ERR_PARAM] = "param",
    [HLZ_ERR_NOT_ARCHIVE] = "not-archive",
    [HLZ_ERR_VERSION] = "version",
    [HLZ_ERR_TRUNCATED] = "truncated",
    [HLZ_ERR_CORRUPT] = "corrupt",
    [HLZ_ERR_CHECKSUM] = "checksum",
    [HLZ_ERR_CODEC] = "codec",
    [HLZ_ERR_MODEL] = "model",
    [HLZ_ERR_UNSUPPORTED] = "unsupported",
};

const char *hlz_status_name(hlz_status status)
{
    if ((unsigned)status >= HLZ_STATUS_COUNT) return "unknown";
    return status_names[status];
}

hlz_status hlz_fail(hlz_error *error, hlz_status status, const char *format, ...)
{
    if (error) {
        va_list args;
        va_start(args, format);
        error->status = status;
        vsnprintf(error->message, sizeof error->message, format, args);
        va_end(args);
    }
    return status;
}
