# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The per-link work of :class:`linkguard.core.tokens.MessageSealer`, compiled.

It writes tokens of the format ``tokens.py`` describes (version 1), opened by the same code:
the plaintext laid out the same way, encrypted by the same AES-GCM object, and encoded as
URL-safe base64 without padding. A link's blob (up to ``FIXED_MAX`` bytes) is deflated by the
fixed-code encoder below, which writes the kind of block zlib writes for it, often the same
bytes but not always; larger blobs, and any the encoder declines, go through zlib's C API with
the parameters of ``tokens._deflate`` (the same bytes as the Python code for the same nonce).
What it saves is the Python between the steps, zlib's tree building for short blobs, and a
fresh zlib stream per link: a stream per parameter set is given the preset dictionary once
(``configure``), and each blob deflates in a copy of it.

The format lives in ``tokens.py``, which passes the dictionary, the parameters and the limits
to :func:`configure` once; nothing of it is spelled out here. Errors are not raised here:
``Sealer.seal`` declines (returns None) whatever is not the ordinary case — out-of-range
numbers, over-long or unencodable text, a given nonce of the wrong type or size, a token over
the length limit — and ``MessageSealer`` then runs the Python code, which raises the error it
always raised, with the same message, in the same order.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.unicode cimport PyUnicode_1BYTE_DATA, PyUnicode_New
from libc.string cimport memcmp, memcpy, memset

import os


cdef extern from "Python.h":
    bint PyUnicode_IS_COMPACT_ASCII(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)


cdef extern from "zlib.h":
    ctypedef struct z_stream:
        unsigned char *next_in  # z_const is empty unless ZLIB_CONST is defined
        unsigned int avail_in
        unsigned long total_in
        unsigned char *next_out
        unsigned int avail_out
        unsigned long total_out

    int Z_OK
    int Z_STREAM_END
    int Z_BUF_ERROR
    int Z_FINISH
    int Z_DEFLATED
    int Z_DEFAULT_STRATEGY

    const char *zlibVersion()
    # deflateInit2 is a macro (it passes zlib's version and the struct size); Cython emits
    # the call as written and the C compiler expands it.
    int deflateInit2(z_stream *strm, int level, int method, int windowBits, int memLevel,
                     int strategy)
    int deflateSetDictionary(z_stream *strm, const unsigned char *dictionary,
                             unsigned int dictLength)
    int deflateCopy(z_stream *dest, z_stream *source)
    int deflate(z_stream *strm, int flush)
    int deflateEnd(z_stream *strm)


cdef enum:
    NONCE_BYTES = 12
    TAG_BYTES = 16
    MAX_LEVELS = 8
    # Plaintext and token buffers up to this size live on the C stack; longer ones are
    # allocated.
    STACK_BYTES = 4096
    # Blobs up to this size are deflated by the fixed-code encoder below (what zlib chooses
    # for them anyway); larger ones by zlib.
    FIXED_MAX = 254
    # The encoder's dictionary may hold at most this many bytes (tokens.py's is 368).
    DICT_MAX = 1024
    HASH_BITS = 10
    HASH_SIZE = 1 << HASH_BITS
    MAX_MATCH = 258
    MAX_CHAIN = 128  # candidates tried per position: the dictionary is small

cdef const char *_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# --- configuration (tokens.py calls configure once, at import) ------------------------------

cdef bint _configured = False
cdef bytes _zdict = b""
cdef Py_ssize_t _small_blob = 0
cdef int _n_levels = 0
cdef Py_ssize_t _level_largest[MAX_LEVELS]
cdef int _level_mem[MAX_LEVELS]
# _primed[i]: a raw deflate stream (level 9, 2 KiB window, memLevel _level_mem[i]) that has
# been given the preset dictionary and nothing else; blobs deflate in copies of it.
cdef z_stream _primed[MAX_LEVELS]
cdef unsigned long long _max_link_index = 0
# The fixed-code encoder's view of the dictionary: for each 3-byte hash the latest dictionary
# position starting with it, and each position's previous one with the same hash (-1: none).
cdef short _dict_head[HASH_SIZE]
cdef short _dict_prev[DICT_MAX]
cdef Py_ssize_t _dict_size = 0
cdef Py_ssize_t _max_url_chars = 0
cdef Py_ssize_t _max_shown_chars = 0
cdef Py_ssize_t _max_token_chars = 0



def zlib_version():
    """The version of the zlib this module runs with (tokens.py compares it with Python's)."""
    return zlibVersion().decode("ascii")


def configure(bytes zdict, Py_ssize_t small_blob, mem_levels,
              unsigned long long max_link_index, Py_ssize_t max_url_chars,
              Py_ssize_t max_shown_chars, Py_ssize_t max_token_chars):
    """Take the format's parameters from tokens.py and prime one stream per memLevel.

    ``mem_levels`` is ``tokens._MEM_LEVELS``: (largest blob size, memLevel) pairs, ascending.
    Blobs over ``small_blob`` bytes use a fresh 32 KiB-window stream, as ``_deflate`` does.
    """
    global _configured, _zdict, _small_blob, _n_levels, _max_link_index, _max_url_chars
    global _max_shown_chars, _max_token_chars
    cdef int i, rc
    levels = list(mem_levels)
    if not 0 < len(levels) <= MAX_LEVELS:
        raise ValueError("between 1 and 8 memLevels")
    # Configured again (tokens.py reloaded): the new parameters replace the old ones.
    _configured = False
    for i in range(_n_levels):
        deflateEnd(&_primed[i])
    _n_levels = 0
    for i in range(len(levels)):
        _level_largest[i] = levels[i][0]
        _level_mem[i] = levels[i][1]
        memset(&_primed[i], 0, sizeof(z_stream))
        rc = deflateInit2(&_primed[i], 9, Z_DEFLATED, -11, _level_mem[i], Z_DEFAULT_STRATEGY)
        if rc != Z_OK:
            raise MemoryError("deflateInit2 failed")
        rc = deflateSetDictionary(&_primed[i], <const unsigned char *>PyBytes_AS_STRING(zdict),
                                  <unsigned int>PyBytes_GET_SIZE(zdict))
        if rc != Z_OK:
            deflateEnd(&_primed[i])
            raise MemoryError("deflateSetDictionary failed")
        _n_levels = i + 1
    _zdict = zdict
    _index_dictionary(zdict)
    _small_blob = small_blob
    _max_link_index = max_link_index
    _max_url_chars = max_url_chars
    _max_shown_chars = max_shown_chars
    _max_token_chars = max_token_chars
    _configured = True


# --- pieces -----------------------------------------------------------------------------------


cdef inline Py_ssize_t _varint(unsigned long long value, unsigned char *out) noexcept:
    """Unsigned LEB128 into ``out`` (at most 10 bytes); the number of bytes written."""
    cdef Py_ssize_t n = 0
    while value >= 0x80:
        out[n] = <unsigned char>((value & 0x7F) | 0x80)
        value >>= 7
        n += 1
    out[n] = <unsigned char>value
    return n + 1


cdef int _deflate(const unsigned char *data, Py_ssize_t size, unsigned char *out,
                  Py_ssize_t room, Py_ssize_t *written) except -1:
    """Raw-deflate ``data`` into ``out`` as ``tokens._deflate`` does; 1 if it took fewer than
    ``room`` bytes (``written`` set), 0 if not (then ``out`` holds an unfinished stream).

    ``room`` is the blob's own size: a stream that does not finish within it is no shorter,
    so it is not finished at all. One byte of room is always spare for a stream that is
    shorter, so zlib reports its end (a stream filling the room exactly is reported
    unfinished, and it is not shorter either).
    """
    cdef z_stream strm
    cdef int rc, i
    memset(&strm, 0, sizeof(z_stream))
    if size <= _small_blob:
        i = 0
        while i < _n_levels - 1 and size > _level_largest[i]:
            i += 1
        if deflateCopy(&strm, &_primed[i]) != Z_OK:
            raise MemoryError("deflateCopy failed")
    else:
        if deflateInit2(&strm, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK:
            raise MemoryError("deflateInit2 failed")
        rc = deflateSetDictionary(&strm, <const unsigned char *>PyBytes_AS_STRING(_zdict),
                                  <unsigned int>PyBytes_GET_SIZE(_zdict))
        if rc != Z_OK:
            deflateEnd(&strm)
            raise MemoryError("deflateSetDictionary failed")
    strm.next_in = <unsigned char *>data
    strm.avail_in = <unsigned int>size
    strm.next_out = out
    strm.avail_out = <unsigned int>room
    rc = deflate(&strm, Z_FINISH)
    written[0] = <Py_ssize_t>strm.total_out
    deflateEnd(&strm)
    if rc == Z_STREAM_END:
        return 1 if written[0] < room else 0
    if rc == Z_OK or rc == Z_BUF_ERROR:
        return 0  # out of room: no shorter than the blob
    raise RuntimeError(f"deflate failed ({rc})")



# --- deflate with the fixed codes (RFC 1951 §3.2.6) --------------------------------------------
#
# A link's blob is about a hundred bytes. For that, zlib spends most of its time on the block's
# bookkeeping — it builds the dynamic Huffman trees, works out their cost, and then writes the
# block with the fixed codes because dynamic trees do not pay for so little data (every
# newsletter link measured: BTYPE 01). This encoder writes that block directly: LZ77 matches
# against the preset dictionary and the blob's earlier bytes (greedy, with one step of lazy
# matching as zlib's higher levels do), coded with the fixed literal/length and distance codes.
# It is a raw deflate stream like zlib's, inflated by the same code that opens every token.
# Where it saves less than a quarter of the blob the text is not link-like, and zlib (which may
# choose codes of its own) deflates it instead.
# Its output is checked before it is used by decoding it again with a reader of its own
# (_decodes_to: RFC 1951's bit order and fixed codes read directly, written apart from the
# encoder's tables, and much cheaper than resetting zlib's inflate with the dictionary for each
# link); the tests open every token with zlib's inflate. Anything else (a longer result, a
# failed check, a blob over FIXED_MAX) goes to zlib.

cdef unsigned short _LEN_BASE[29]
cdef unsigned char _LEN_EXTRA[29]
cdef unsigned short _DIST_BASE[30]
cdef unsigned char _DIST_EXTRA[30]
cdef unsigned char _LEN_CODE[MAX_MATCH + 1]  # length 3..258 -> index into _LEN_BASE
cdef unsigned short _LIT_BITS[288]  # the fixed code of each literal/length symbol, bit-reversed
cdef unsigned char _LIT_LEN[288]
cdef unsigned char _DIST_BITS[30]  # the 5-bit distance codes, bit-reversed


cdef unsigned int _reverse(unsigned int code, int length) noexcept:
    cdef unsigned int out = 0
    cdef int i
    for i in range(length):
        out = (out << 1) | (code & 1)
        code >>= 1
    return out


cdef void _fixed_tables() noexcept:
    cdef int i, code, length
    base = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83,
            99, 115, 131, 163, 195, 227, 258]
    extra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5,
             5, 0]
    for i in range(29):
        _LEN_BASE[i] = base[i]
        _LEN_EXTRA[i] = extra[i]
    dbase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
             1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    for i in range(30):
        _DIST_BASE[i] = dbase[i]
        _DIST_EXTRA[i] = 0 if i < 4 else (i - 2) >> 1
        _DIST_BITS[i] = <unsigned char>_reverse(i, 5)
    for length in range(3, MAX_MATCH + 1):
        code = 28
        while _LEN_BASE[code] > length:
            code -= 1
        _LEN_CODE[length] = <unsigned char>code
    for i in range(288):
        if i < 144:
            _LIT_BITS[i] = <unsigned short>_reverse(0x30 + i, 8)
            _LIT_LEN[i] = 8
        elif i < 256:
            _LIT_BITS[i] = <unsigned short>_reverse(0x190 + i - 144, 9)
            _LIT_LEN[i] = 9
        elif i < 280:
            _LIT_BITS[i] = <unsigned short>_reverse(i - 256, 7)
            _LIT_LEN[i] = 7
        else:
            _LIT_BITS[i] = <unsigned short>_reverse(0xC0 + i - 280, 8)
            _LIT_LEN[i] = 8


_fixed_tables()


cdef inline unsigned int _hash3(const unsigned char *p) noexcept:
    return ((<unsigned int>p[0] << 10) ^ (<unsigned int>p[1] << 5) ^ p[2]) & (HASH_SIZE - 1)


cdef void _index_dictionary(bytes zdict) noexcept:
    """The dictionary's hash chains (positions whose three bytes lie inside it)."""
    global _dict_size
    cdef const unsigned char *d = <const unsigned char *>PyBytes_AS_STRING(zdict)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(zdict)
    cdef Py_ssize_t p
    cdef unsigned int h
    if n > DICT_MAX:
        _dict_size = 0  # too large for the encoder: every blob goes to zlib
        return
    for p in range(HASH_SIZE):
        _dict_head[p] = -1
    for p in range(n - 2):
        h = _hash3(d + p)
        _dict_prev[p] = _dict_head[h]
        _dict_head[h] = <short>p
    _dict_size = n


cdef struct _Bits:
    unsigned char *out
    Py_ssize_t pos
    Py_ssize_t room
    unsigned long long acc
    int count


cdef inline bint _put(_Bits *b, unsigned int bits, int count) noexcept:
    """Append ``count`` bits (first bit in the lowest place); False when out of room."""
    b.acc |= (<unsigned long long>bits) << b.count
    b.count += count
    while b.count >= 8:
        if b.pos >= b.room:
            return False
        b.out[b.pos] = <unsigned char>(b.acc & 0xFF)
        b.pos += 1
        b.acc >>= 8
        b.count -= 8
    return True


cdef Py_ssize_t _longest(const unsigned char *win, Py_ssize_t cur, Py_ssize_t end,
                         const short *blob_head, const short *blob_prev, Py_ssize_t dict_size,
                         Py_ssize_t *distance) noexcept:
    """The longest match for ``win[cur:]`` among earlier positions (blob first, nearest
    first, then the dictionary); its length (0 if under 3) and, in ``distance``, how far
    back it starts (the nearest of equally long ones)."""
    cdef Py_ssize_t best = 0, limit = end - cur, length, cand
    cdef int tries = MAX_CHAIN
    cdef unsigned int h
    if limit < 3:
        return 0
    if limit > MAX_MATCH:
        limit = MAX_MATCH
    h = _hash3(win + cur)
    cand = blob_head[h]
    while cand >= 0 and tries > 0:
        # (blob positions are stored relative to the blob's start)
        if win[dict_size + cand + best] == win[cur + best] or best == 0:
            length = 0
            while length < limit and win[dict_size + cand + length] == win[cur + length]:
                length += 1
            if length > best:
                best = length
                distance[0] = cur - (dict_size + cand)
                if best == limit:
                    return best
        cand = blob_prev[cand]
        tries -= 1
    cand = _dict_head[h]
    while cand >= 0 and tries > 0:
        if win[cand + best] == win[cur + best] or best == 0:
            length = 0
            while length < limit and win[cand + length] == win[cur + length]:
                length += 1
            if length > best:
                best = length
                distance[0] = cur - cand
                if best == limit:
                    return best
        cand = _dict_prev[cand]
        tries -= 1
    return best if best >= 3 else 0


cdef inline bint _put_match(_Bits *b, Py_ssize_t length, Py_ssize_t distance) noexcept:
    cdef int code = _LEN_CODE[length], dcode = 29
    if not _put(b, _LIT_BITS[257 + code], _LIT_LEN[257 + code]):
        return False
    if _LEN_EXTRA[code] and not _put(b, <unsigned int>(length - _LEN_BASE[code]),
                                     _LEN_EXTRA[code]):
        return False
    while _DIST_BASE[dcode] > distance:
        dcode -= 1
    if not _put(b, _DIST_BITS[dcode], 5):
        return False
    return _DIST_EXTRA[dcode] == 0 or _put(b, <unsigned int>(distance - _DIST_BASE[dcode]),
                                           _DIST_EXTRA[dcode])


cdef inline void _insert(const unsigned char *win, Py_ssize_t pos, Py_ssize_t end,
                         Py_ssize_t dict_size, short *blob_head, short *blob_prev) noexcept:
    """Add blob position ``pos`` (window index) to the blob's hash chains."""
    cdef unsigned int h
    cdef Py_ssize_t rel = pos - dict_size
    if pos + 3 > end or rel < 0:
        return
    h = _hash3(win + pos)
    blob_prev[rel] = blob_head[h]
    blob_head[h] = <short>rel


cdef struct _Reader:
    const unsigned char *data
    Py_ssize_t size  # bytes
    Py_ssize_t next  # the next byte to load
    unsigned long long acc  # loaded bits, the stream's next bit lowest
    int count  # how many bits ``acc`` holds
    int over  # bits read past the end (zeros): any at the end means a truncated stream


cdef inline void _fill(_Reader *r) noexcept:
    while r.count <= 56:
        if r.next < r.size:
            r.acc |= (<unsigned long long>r.data[r.next]) << r.count
            r.next += 1
        else:
            r.over += 8  # past the end reads as zeros, counted
        r.count += 8


cdef inline unsigned int _take(_Reader *r, int count) noexcept:
    """``count`` bits (at most 32) as a number, the first bit lowest (extra bits, header)."""
    cdef unsigned int value
    if r.count < count:
        _fill(r)
    value = <unsigned int>(r.acc & ((1ULL << count) - 1))
    r.acc >>= count
    r.count -= count
    return value


# The fixed literal/length code (RFC 1951 §3.2.6) by the next nine bits of the stream as they
# come (first bit lowest): the symbol and its code length. Codes are sent first bit highest
# (§3.1.1), so each entry reads its bits from the lowest up into a code, by the RFC's ranges.
cdef short _FIXED_SYMBOL[512]
cdef unsigned char _FIXED_LENGTH[512]


cdef void _fixed_decoding() noexcept:
    cdef int window, code, i
    for window in range(512):
        code = 0
        for i in range(7):
            code = (code << 1) | ((window >> i) & 1)
        if code <= 0x17:  # 0000000-0010111: 256-279
            _FIXED_SYMBOL[window] = <short>(256 + code)
            _FIXED_LENGTH[window] = 7
            continue
        code = (code << 1) | ((window >> 7) & 1)
        if 0x30 <= code <= 0xBF:  # 00110000-10111111: 0-143
            _FIXED_SYMBOL[window] = <short>(code - 0x30)
            _FIXED_LENGTH[window] = 8
        elif 0xC0 <= code <= 0xC7:  # 11000000-11000111: 280-287
            _FIXED_SYMBOL[window] = <short>(280 + code - 0xC0)
            _FIXED_LENGTH[window] = 8
        else:  # 110010000-111111111: 144-255
            code = (code << 1) | ((window >> 8) & 1)
            _FIXED_SYMBOL[window] = <short>(144 + code - 0x190)
            _FIXED_LENGTH[window] = 9


_fixed_decoding()


cdef bint _decodes_to(const unsigned char *stream, Py_ssize_t size, const unsigned char *win,
                      Py_ssize_t dict_size, Py_ssize_t end) noexcept:
    """Whether ``stream`` (``size`` bytes) is one final fixed-code block that decodes, with
    ``win[:dict_size]`` as the preset dictionary, to exactly ``win[dict_size:end]`` and
    nothing after it. Each decoded byte is compared as it comes, so a match's source (the
    dictionary or bytes already compared) is read from ``win`` itself."""
    cdef _Reader r
    cdef Py_ssize_t p = dict_size, length, distance, k
    cdef unsigned int window, code, i
    cdef int sym
    r.data = stream
    r.size = size
    r.next = 0
    r.acc = 0
    r.count = 0
    r.over = 0
    if _take(&r, 3) != 0b011:  # BFINAL 1, BTYPE 01
        return False
    while True:
        if r.count < 9:
            _fill(&r)
        window = <unsigned int>(r.acc & 511)
        sym = _FIXED_SYMBOL[window]
        r.acc >>= _FIXED_LENGTH[window]
        r.count -= _FIXED_LENGTH[window]
        if sym < 256:
            if p >= end or win[p] != sym:
                return False
            p += 1
            continue
        if sym == 256:  # end of block
            break
        if sym > 285:
            return False  # 286 and 287 never occur in a valid stream
        length = _LEN_BASE[sym - 257]
        if _LEN_EXTRA[sym - 257]:
            length += _take(&r, _LEN_EXTRA[sym - 257])
        # The distance code: five bits sent first bit highest.
        window = _take(&r, 5)
        code = 0
        for i in range(5):
            code = (code << 1) | ((window >> i) & 1)
        if code > 29:
            return False
        distance = _DIST_BASE[code]
        if _DIST_EXTRA[code]:
            distance += _take(&r, _DIST_EXTRA[code])
        if distance > p or p + length > end:
            return False
        for k in range(length):
            if win[p + k] != win[p + k - distance]:
                return False
        p += length
    # All of the blob, nothing read past the stream, and only padding after the end code.
    if p != end:
        return False
    cdef Py_ssize_t consumed = r.next * 8 + r.over - r.count  # bits read, zeros past the end too
    return consumed <= size * 8 and (consumed + 7) >> 3 == size


cdef int _fixed_deflate(const unsigned char *data, Py_ssize_t size, unsigned char *out,
                        Py_ssize_t room, Py_ssize_t *written) noexcept:
    """One final block with the fixed codes; 1 if it took fewer than ``room`` bytes
    (``written`` set) and decodes back to ``data`` (:func:`_decodes_to`), 0 otherwise."""
    cdef unsigned char win[DICT_MAX + FIXED_MAX + MAX_MATCH]
    cdef short blob_head[HASH_SIZE]
    cdef short blob_prev[FIXED_MAX]
    cdef Py_ssize_t dict_size = _dict_size, end, cur, length, distance = 0
    cdef Py_ssize_t next_length, next_distance = 0, i
    cdef _Bits b
    if dict_size == 0 or size > FIXED_MAX or size < 1:
        return 0
    memcpy(win, PyBytes_AS_STRING(_zdict), dict_size)
    memcpy(win + dict_size, data, size)
    end = dict_size + size
    memset(blob_head, 0xFF, sizeof(blob_head))  # -1: no blob position yet
    b.out = out
    b.pos = 0
    b.room = room
    b.acc = 0
    b.count = 0
    if not _put(&b, 0b011, 3):  # BFINAL 1, BTYPE 01 (fixed codes)
        return 0
    cur = dict_size
    length = _longest(win, cur, end, blob_head, blob_prev, dict_size, &distance)
    while cur < end:
        if length:
            # One step of lazy matching: a longer match one byte on is worth a literal.
            next_length = 0
            if length < 32 and cur + 1 < end:
                _insert(win, cur, end, dict_size, blob_head, blob_prev)
                next_length = _longest(win, cur + 1, end, blob_head, blob_prev, dict_size,
                                       &next_distance)
                if next_length > length:
                    if not _put(&b, _LIT_BITS[win[cur]], _LIT_LEN[win[cur]]):
                        return 0
                    cur += 1
                    length, distance = next_length, next_distance
                    continue
                if not _put_match(&b, length, distance):
                    return 0
                for i in range(cur + 1, cur + length):
                    _insert(win, i, end, dict_size, blob_head, blob_prev)
            else:
                if not _put_match(&b, length, distance):
                    return 0
                for i in range(cur, cur + length):
                    _insert(win, i, end, dict_size, blob_head, blob_prev)
            cur += length
        else:
            if not _put(&b, _LIT_BITS[win[cur]], _LIT_LEN[win[cur]]):
                return 0
            _insert(win, cur, end, dict_size, blob_head, blob_prev)
            cur += 1
        length = _longest(win, cur, end, blob_head, blob_prev, dict_size, &distance) \
            if cur < end else 0
    if not _put(&b, _LIT_BITS[256], _LIT_LEN[256]):  # end of block
        return 0
    if b.count and not _put(&b, 0, 8 - b.count):  # to a whole byte
        return 0
    if b.pos >= room or b.pos * 4 > size * 3:
        # Not shorter, or hardly: text the fixed codes do not fit (zlib may do better with
        # codes of its own).
        return 0
    # Decode it again, bit by bit as RFC 1951 §3.2 reads a fixed-code block, against the
    # window it was made from: only a stream that gives back exactly the blob is used.
    if not _decodes_to(out, b.pos, win, dict_size, end):
        return 0
    written[0] = b.pos
    return 1



def deflate_fixed(bytes data):
    """The fixed-code encoder on its own (for tests): the stream, or None where the seal
    would fall back to zlib (not shorter by a quarter, too large, or not decoding back)."""
    cdef unsigned char out[FIXED_MAX]
    cdef Py_ssize_t written = 0
    if not _configured:
        raise RuntimeError("configure() first")
    if _fixed_deflate(<const unsigned char *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data),
                      out, min(PyBytes_GET_SIZE(data), FIXED_MAX), &written):
        return PyBytes_FromStringAndSize(<char *>out, written)
    return None


def decodes_to(bytes stream, bytes data):
    """The encoder's check on its own (for tests): whether ``stream`` is one final fixed-code
    block that decodes, with the preset dictionary, to exactly ``data``."""
    cdef unsigned char win[DICT_MAX + FIXED_MAX + MAX_MATCH]
    cdef Py_ssize_t size = PyBytes_GET_SIZE(data)
    if not _configured:
        raise RuntimeError("configure() first")
    if _dict_size == 0 or size > FIXED_MAX:
        return False
    memcpy(win, PyBytes_AS_STRING(_zdict), _dict_size)
    memcpy(win + _dict_size, PyBytes_AS_STRING(data), size)
    return _decodes_to(<const unsigned char *>PyBytes_AS_STRING(stream),
                       PyBytes_GET_SIZE(stream), win, _dict_size, _dict_size + size)


cdef object _utf8(object text):
    """The string's UTF-8: an ASCII string itself (read in place), others encoded to bytes.
    None when it has lone surrogates (not encodable; the Python code names the field)."""
    if PyUnicode_IS_COMPACT_ASCII(text):
        return text
    try:
        return (<str>text).encode("utf-8")
    except UnicodeEncodeError:
        return None


cdef inline const unsigned char *_utf8_data(object utf8) noexcept:
    if type(utf8) is str:
        return <const unsigned char *>PyUnicode_1BYTE_DATA(utf8)
    return <const unsigned char *>PyBytes_AS_STRING(utf8)


cdef inline Py_ssize_t _utf8_size(object utf8) noexcept:
    if type(utf8) is str:
        return PyUnicode_GET_LENGTH(utf8)
    return PyBytes_GET_SIZE(utf8)


cdef str _b64encode(const unsigned char *data, Py_ssize_t size):
    """URL-safe base64 without padding (RFC 4648 §5), as a str."""
    cdef Py_ssize_t chars = (size * 4 + 2) // 3
    cdef str text = PyUnicode_New(chars, 127)
    cdef unsigned char *out = <unsigned char *>PyUnicode_1BYTE_DATA(text)
    cdef Py_ssize_t i = 0, o = 0
    cdef unsigned int triple
    while i + 3 <= size:
        triple = (<unsigned int>data[i] << 16) | (<unsigned int>data[i + 1] << 8) | data[i + 2]
        out[o] = _B64[(triple >> 18) & 63]
        out[o + 1] = _B64[(triple >> 12) & 63]
        out[o + 2] = _B64[(triple >> 6) & 63]
        out[o + 3] = _B64[triple & 63]
        i += 3
        o += 4
    if size - i == 1:
        triple = <unsigned int>data[i] << 16
        out[o] = _B64[(triple >> 18) & 63]
        out[o + 1] = _B64[(triple >> 12) & 63]
    elif size - i == 2:
        triple = (<unsigned int>data[i] << 16) | (<unsigned int>data[i + 1] << 8)
        out[o] = _B64[(triple >> 18) & 63]
        out[o + 1] = _B64[(triple >> 12) & 63]
        out[o + 2] = _B64[(triple >> 6) & 63]
    return text


# --- the sealer -------------------------------------------------------------------------------


cdef class Sealer:
    """One message's sealer: the shared parts, serialised by MessageSealer, and its cipher."""

    cdef object _encrypt  # the AESGCM object's encrypt, made once per key
    cdef bytes _header
    cdef bytes _issued
    cdef bytes _tail
    cdef unsigned char _flags
    cdef unsigned char _display_flag
    cdef unsigned char _deflated_flag

    def __cinit__(self, encrypt, bytes header, int flags, bytes issued, bytes tail,
                  int display_flag, int deflated_flag):
        if not _configured:
            raise RuntimeError("_sealcore.configure has not been called")
        self._encrypt = encrypt
        self._header = header
        self._flags = <unsigned char>flags
        self._issued = issued
        self._tail = tail
        self._display_flag = <unsigned char>display_flag
        self._deflated_flag = <unsigned char>deflated_flag

    def seal(self, url, link_index, display_text, nonce):
        """The token of one link, or None when this is not the ordinary case (see above)."""
        cdef unsigned long long index
        cdef const unsigned char *url_data
        cdef const unsigned char *shown_data
        cdef Py_ssize_t url_size, shown_size = 0
        cdef object keep_url = None, keep_shown = None
        cdef unsigned char flags = self._flags
        cdef unsigned char stack[STACK_BYTES]
        cdef unsigned char *work = stack
        cdef unsigned char *blob
        cdef unsigned char *plain
        cdef Py_ssize_t blob_size, prefix, plain_size, packed, raw_size, n
        cdef Py_ssize_t issued_size = PyBytes_GET_SIZE(self._issued)
        cdef Py_ssize_t tail_size = PyBytes_GET_SIZE(self._tail)
        cdef Py_ssize_t header_size = PyBytes_GET_SIZE(self._header)
        cdef unsigned char *raw

        if type(link_index) is not int or link_index < 0 or link_index > _max_link_index:
            return None
        index = link_index
        if type(url) is not str or PyUnicode_GET_LENGTH(url) > _max_url_chars:
            return None
        if nonce is not None and (type(nonce) is not bytes
                                  or PyBytes_GET_SIZE(nonce) != NONCE_BYTES):
            return None
        keep_url = _utf8(url)
        if keep_url is None:
            return None
        url_data = _utf8_data(keep_url)
        url_size = _utf8_size(keep_url)
        if display_text is not None:
            if type(display_text) is not str:
                return None
            if PyUnicode_GET_LENGTH(display_text) > _max_shown_chars:
                display_text = display_text[:_max_shown_chars]
            keep_shown = _utf8(display_text)
            if keep_shown is None:
                return None
            shown_data = _utf8_data(keep_shown)
            shown_size = _utf8_size(keep_shown)
            flags |= self._display_flag

        # One buffer: the blob, then the plaintext (prefix and blob or its deflated stream),
        # then header | nonce | ciphertext | tag.
        blob_size = 10 + url_size + shown_size  # room for the varint; trimmed below
        prefix = 1 + issued_size + 10 + tail_size
        n = blob_size + (prefix + blob_size) + (header_size + NONCE_BYTES + prefix + blob_size
                                                 + TAG_BYTES)
        if n > STACK_BYTES:
            work = <unsigned char *>PyMem_Malloc(n)
            if work == NULL:
                raise MemoryError()
        try:
            blob = work
            blob_size = _varint(url_size, blob)
            memcpy(blob + blob_size, url_data, url_size)
            blob_size += url_size
            if shown_size:
                memcpy(blob + blob_size, shown_data, shown_size)
                blob_size += shown_size

            plain = blob + blob_size
            prefix = 1 + issued_size + _varint(index, plain + 1 + issued_size) + tail_size
            if _fixed_deflate(blob, blob_size, plain + prefix, blob_size, &packed) or \
                    _deflate(blob, blob_size, plain + prefix, blob_size, &packed):
                flags |= self._deflated_flag
                plain_size = prefix + packed
            else:
                memcpy(plain + prefix, blob, blob_size)
                plain_size = prefix + blob_size
            plain[0] = flags
            memcpy(plain + 1, PyBytes_AS_STRING(self._issued), issued_size)
            memcpy(plain + prefix - tail_size, PyBytes_AS_STRING(self._tail), tail_size)

            raw_size = header_size + NONCE_BYTES + plain_size + TAG_BYTES
            if (raw_size * 4 + 2) // 3 > _max_token_chars:
                return None  # too long: the Python code raises DestinationTooLongError
            if nonce is None:
                # A fresh random nonce per link, from the OS (as the Python code draws it):
                # with AES-GCM a repeated nonce under one key gives the key stream away.
                nonce = os.urandom(NONCE_BYTES)
            sealed = self._encrypt(nonce, PyBytes_FromStringAndSize(<char *>plain, plain_size),
                                   self._header)
            if type(sealed) is not bytes or PyBytes_GET_SIZE(sealed) != plain_size + TAG_BYTES:
                raise RuntimeError("AES-GCM returned an unexpected ciphertext")
            raw = plain + plain_size
            memcpy(raw, PyBytes_AS_STRING(self._header), header_size)
            memcpy(raw + header_size, PyBytes_AS_STRING(nonce), NONCE_BYTES)
            memcpy(raw + header_size + NONCE_BYTES, PyBytes_AS_STRING(sealed),
                   plain_size + TAG_BYTES)
            return _b64encode(raw, raw_size)
        finally:
            if work != stack:
                PyMem_Free(work)
