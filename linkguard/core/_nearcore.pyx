# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Which one-character deletions of a name are keys of the brand index, without making them.

``BrandIndex._typo`` asks, for every new registered label, whether the label or any string
one deletion away from it is a key of the deletion index (the "symmetric delete" lookup): in
Python that is one new string per position and a probe of a set of a million keys each, and
most labels are near no protected name at all. Here the keys are kept as 64-bit hashes in an
open-addressing table and the hash of every deletion is computed from prefix and suffix sums
of the label (a polynomial hash: dropping character ``i`` gives
``prefix(i) * B**(n - 1 - i) + suffix(i + 1)``), so the question costs one pass and a few
probes, and only the deletions whose hash is in the table are made as strings.

A hash can only be found for a string that is a key or collides with one, never missed for a
key: the caller looks every string returned here up in the index itself, so a collision costs
a look-up and changes no answer. ``brands.py`` keeps the Python path for the plain build and
``tests/core/test_nearcore.py`` holds the two to the same results.
"""

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.unicode cimport PyUnicode_GET_LENGTH
from libc.stdint cimport uint64_t
from libc.string cimport memset


cdef extern from "Python.h":
    ctypedef unsigned int UCS4 "Py_UCS4"
    int PyUnicode_KIND(object)
    void *PyUnicode_DATA(object)
    UCS4 PyUnicode_READ(int kind, void *data, Py_ssize_t index)
    object PyUnicode_Substring(object, Py_ssize_t, Py_ssize_t)


cdef enum:
    MAX_TEXT = 256  # longer texts are not looked at here (the caller's own limit is 64)

cdef uint64_t _BASE = 0x9E3779B97F4A7C15ULL  # odd: multiplication by it is invertible


cdef inline uint64_t _mix(uint64_t h, Py_ssize_t size) noexcept nogil:
    """Spread the polynomial over the table's slots (splitmix64's finaliser), with the
    length in (the polynomial alone gives "a" and "\\0a" one value); never 0 (empty slot)."""
    h ^= <uint64_t>size * 0xBF58476D1CE4E5B9ULL
    h ^= h >> 30
    h *= 0xBF58476D1CE4E5B9ULL
    h ^= h >> 27
    h *= 0x94D049BB133111EBULL
    h ^= h >> 31
    return h if h else 1


cdef uint64_t _hash(str text) noexcept:
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), i
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    cdef uint64_t h = 0
    for i in range(n):
        h = h * _BASE + PyUnicode_READ(kind, data, i)
    return _mix(h, n)


cdef class KeyTable:
    """The 64-bit hashes of a set of strings, for "which of these variants may be keys?"."""

    cdef uint64_t *_slots
    cdef uint64_t _mask
    cdef Py_ssize_t _count

    def __cinit__(self, keys):
        cdef list hashes = [_hash(key) for key in keys if type(key) is str]
        cdef uint64_t size = 16
        while size < <uint64_t>len(hashes) * 2:
            size *= 2
        self._slots = <uint64_t *>PyMem_Malloc(size * sizeof(uint64_t))
        if self._slots == NULL:
            raise MemoryError()
        memset(self._slots, 0, size * sizeof(uint64_t))
        self._mask = size - 1
        self._count = 0
        cdef uint64_t h
        for h in hashes:
            self._insert(h)

    def __dealloc__(self):
        PyMem_Free(self._slots)

    def __len__(self):
        return self._count

    cdef void _insert(self, uint64_t h) noexcept:
        cdef uint64_t at = h & self._mask
        while self._slots[at]:
            if self._slots[at] == h:
                return
            at = (at + 1) & self._mask
        self._slots[at] = h
        self._count += 1

    cdef inline bint _has(self, uint64_t h) noexcept nogil:
        cdef uint64_t at = h & self._mask
        cdef uint64_t seen
        while True:
            seen = self._slots[at]
            if seen == h:
                return True
            if not seen:
                return False
            at = (at + 1) & self._mask

    def __contains__(self, text):
        return type(text) is str and self._has(_hash(text))

    def near(self, str text not None):
        """``text`` and its one-character deletions that may be keys, as a list (each
        distinct string once: of a run of equal characters only the first is dropped), or
        None when ``text`` is longer than this looks at (ask the index directly)."""
        return self._cuts(text, 1)

    def pairs(self, str text not None):
        """``text[:i] + text[i + 2:]`` for ``i`` from 1 to ``len(text) - 2``, in that order,
        where it may be a key; None when ``text`` is longer than this looks at."""
        return self._cuts(text, 2)

    cdef object _cuts(self, str text, int width):
        """The cuts of ``width`` characters out of ``text`` that may be keys, by position:
        width 1 with ``text`` itself first (``near``), width 2 from position 1 (``pairs``)."""
        cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), i
        if n > MAX_TEXT:
            return None
        cdef int kind = PyUnicode_KIND(text)
        cdef void *data = PyUnicode_DATA(text)
        cdef uint64_t prefix[MAX_TEXT + 1]
        cdef uint64_t suffix = 0, power = 1
        cdef UCS4 c
        cdef list out = []
        prefix[0] = 0
        for i in range(n):
            prefix[i + 1] = prefix[i] * _BASE + PyUnicode_READ(kind, data, i)
        # From the last cut back: ``suffix`` is the polynomial of text[i + width:] and
        # ``power`` is B ** (n - width - i), the weight the prefix text[:i] takes after the cut.
        i = n - width
        while i >= width - 1:
            c = PyUnicode_READ(kind, data, i)
            # Of a run of equal characters, dropping any one gives the same string: the first.
            if width == 2 or i == 0 or PyUnicode_READ(kind, data, i - 1) != c:
                if self._has(_mix(prefix[i] * power + suffix, n - width)):
                    out.append(PyUnicode_Substring(text, 0, i)
                               + PyUnicode_Substring(text, i + width, n))
            suffix += PyUnicode_READ(kind, data, i + width - 1) * power
            power *= _BASE
            i -= 1
        out.reverse()
        if width == 1 and self._has(_mix(prefix[n], n)):
            out.insert(0, text)
        return out
