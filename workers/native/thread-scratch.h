// The kernels' per-thread scratch: each matcher thread keeps its own buffers, reused from call to
// call and freed when the thread ends (workers come and go with the pool). A kernel call asks for
// them once. In a shared library every direct use of a thread_local may be a call to
// __tls_get_addr (the candidate index walk made one per key, about 3% of a matcher thread under
// load); the reference this non-inlined function returns is a plain pointer the compiler keeps.
#ifndef BIOPAY_THREAD_SCRATCH_H
#define BIOPAY_THREAD_SCRATCH_H

namespace biopay {

template <typename Scratch>
__attribute__((noinline)) Scratch& threadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

}  // namespace biopay

#endif
