/* checksum.c - the two checksums of the format, both from Debian's libxxhash.
 * XXH3's output is frozen since xxHash 0.8.0, so archives stay verifiable. */
#include "internal.h"

#include <string.h>
#include <xxhash.h>

uint64_t hlz_checksum64(const void *data, size_t size, uint64_t chunk)
{
    return XXH3_64bits_withSeed(data, size, chunk);
}

void hlz_fingerprint128(const void *data, size_t size, uint8_t out[16])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(data, size));
    memcpy(out, c.digest, 16);
}

uint32_t hlz_check32(const void *data, size_t size) { return (uint32_t)XXH3_64bits(data, size); }
