# cython: language_level=3, boundscheck=False, wraparound=False
"""Quoted-printable line tables and line wrapping in one pass over the bytes (RFC 2045 §6.7).

``transfer.QuotedPrintable`` needs, for a body it may re-encode line by line, the encoded and
decoded offset of every physical line and the decoded text. In Python that is a regular
expression over the whole body (is every "=" an escape or a soft break?), a split into lines,
``binascii.a2b_qp`` over the lines joined with a marker, a second split and two running sums:
for a 100 KB newsletter of 1,300 lines, more time than the standard library takes to parse and
write the whole message. Here it is one loop over the body. ``wrap`` is the common case of
``transfer._encode_run`` (a link in a long line of printable ASCII) likewise.

The Python functions these replace stay in ``transfer.py`` (the plain build runs them) and
``tests/rewriter/test_qpcore.py`` holds the two to the same results.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE


cdef inline int _hex(unsigned char c) nogil:
    if 48 <= c <= 57:  # 0-9
        return c - 48
    if 65 <= c <= 70:  # A-F
        return c - 55
    if 97 <= c <= 102:  # a-f: binascii.a2b_qp reads both cases
        return c - 87
    return -1


def physical_lines(bytes body):
    """``(enc, dec, decoded)`` for a regular ``body``, or None.

    Regular: no NUL byte, and every "=" starts a soft break ("=\\n", "=\\r\\n") or an escape of
    two hex digits: then ``decoded`` is what ``binascii.a2b_qp(body)`` gives, ``enc[i]`` and
    ``dec[i]`` are where physical line ``i`` starts in ``body`` and in ``decoded``, and both
    lists end with the end of the body (what ``transfer._physical_lines`` returns).
    """
    cdef Py_ssize_t n = PyBytes_GET_SIZE(body)
    cdef const unsigned char *src = <const unsigned char *>PyBytes_AS_STRING(body)
    out = PyBytes_FromStringAndSize(NULL, n)  # decoded text is never longer than the body
    cdef unsigned char *dst = <unsigned char *>PyBytes_AS_STRING(out)
    cdef Py_ssize_t i = 0, o = 0
    cdef unsigned char c
    cdef int hi, lo
    enc = [0]
    dec = [0]
    while i < n:
        c = src[i]
        if c == 61:  # "="
            if i + 1 < n and src[i + 1] == 10:
                i += 2
            elif i + 2 < n and src[i + 1] == 13 and src[i + 2] == 10:
                i += 3
            else:
                if i + 2 >= n:
                    return None  # "=" or "=X" at the end: a2b_qp keeps or drops it
                hi = _hex(src[i + 1])
                lo = _hex(src[i + 2])
                if hi < 0 or lo < 0:
                    return None  # an "=" a2b_qp keeps as it is
                dst[o] = <unsigned char>(hi * 16 + lo)
                o += 1
                i += 3
                continue
            enc.append(i)  # a soft break ends a physical line and decodes to nothing
            dec.append(o)
            continue
        if c == 0:
            return None
        dst[o] = c
        o += 1
        i += 1
        if c == 10:
            enc.append(i)
            dec.append(o)
    if enc[len(enc) - 1] != n:  # the last line has no break: the end closes it
        enc.append(n)
        dec.append(o)
    return enc, dec, out[:o]


def wrap(bytes text, bytes soft):
    """``text`` quoted-printable in lines of at most 75 characters, each ended by ``soft``
    ("=" and the line break), or None if it holds a byte other than tab and " " to "~".

    What ``transfer._wrap(text.replace(b"=", b"=3D"), soft)`` gives: "=" written "=3D", each
    line filled with as many whole characters as fit, an "=3D" never cut.
    """
    cdef Py_ssize_t n = PyBytes_GET_SIZE(text)
    cdef Py_ssize_t s = PyBytes_GET_SIZE(soft)
    cdef const unsigned char *src = <const unsigned char *>PyBytes_AS_STRING(text)
    cdef const unsigned char *brk = <const unsigned char *>PyBytes_AS_STRING(soft)
    cdef Py_ssize_t i, j, o = 0, width = 0, escapes = 0
    cdef unsigned char c
    for i in range(n):
        c = src[i]
        if c == 61:
            escapes += 1
        elif c != 9 and (c < 32 or c > 126):
            return None
    if n == 0:
        return soft
    cdef Py_ssize_t size = n + 2 * escapes
    # At least one character a line, at most 75: the lines needed are at most size.
    out = PyBytes_FromStringAndSize(NULL, size + (size // 25 + 2) * s)
    cdef unsigned char *dst = <unsigned char *>PyBytes_AS_STRING(out)
    for i in range(n):
        c = src[i]
        if c == 61:
            if width + 3 > 75:
                for j in range(s):
                    dst[o + j] = brk[j]
                o += s
                width = 0
            dst[o] = 61
            dst[o + 1] = 51  # "3"
            dst[o + 2] = 68  # "D"
            o += 3
            width += 3
        else:
            if width + 1 > 75:
                for j in range(s):
                    dst[o + j] = brk[j]
                o += s
                width = 0
            dst[o] = c
            o += 1
            width += 1
    for j in range(s):
        dst[o + j] = brk[j]
    o += s
    return out[:o]
