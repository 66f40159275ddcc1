# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The per-link work of :class:`linkguard.core.tokens.MessageSealer`, compiled.

It writes the token the Python code in ``tokens.py`` writes, byte for byte for the same nonce
(format version 1, described there): the blob is deflated through zlib's C API with the same
parameters as ``tokens._deflate``, the plaintext laid out the same way, encrypted by the same
AES-GCM object, and encoded as URL-safe base64 without padding. What it saves is the Python
between the steps and a fresh zlib stream per link: a stream per parameter set is made and given
the preset dictionary once (``configure``), and each blob deflates in a copy of it.

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
from libc.string cimport memcpy, memset

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
            if _deflate(blob, blob_size, plain + prefix, blob_size, &packed):
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
