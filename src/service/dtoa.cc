/*
 * dtoa.cc - the one C++ file: a C shim over double-conversion's shortest
 * round-trip formatting (see dtoa.h). The converter is immutable and shared
 * by every thread.
 */
#include <cmath>
#include <cstring>

#include <double-conversion/double-to-string.h>

#include "dtoa.h"

using double_conversion::DoubleToStringConverter;
using double_conversion::StringBuilder;

/* ECMAScript-like layout (1e-7, 1e+21) that JSON accepts, floats always with a point. */
static const DoubleToStringConverter converter(
    DoubleToStringConverter::EMIT_POSITIVE_EXPONENT_SIGN |
        DoubleToStringConverter::EMIT_TRAILING_DECIMAL_POINT |
        DoubleToStringConverter::EMIT_TRAILING_ZERO_AFTER_POINT,
    "null", "null", 'e', -6, 21, 6, 0);

extern "C" size_t lossd_dtoa(double x, char *buf)
{
    if (!std::isfinite(x)) {
        std::memcpy(buf, "null", 4);
        return 4;
    }
    StringBuilder builder(buf, LOSSD_DTOA_MAX);
    converter.ToShortest(x, &builder);
    size_t n = static_cast<size_t>(builder.position());
    builder.Finalize();
    return n;
}
