// Wasm-only runtime overrides that keep the module free of WASI imports: libc++'s default
// operator new (new-handler / terminate path) and __libcpp_verbose_abort both reach stdio,
// which imports fd_write/fd_seek/fd_close. Ours trap instead.
#include <__config>
#include <__verbose_abort>
#include <cstdlib>
#include <new>

void* operator new(std::size_t n) {
  if (void* p = std::malloc(n ? n : 1)) return p;
  __builtin_trap();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

// Debian's wasm32 libc++ uses the ABI namespace std::__2: use libc++'s own macros.
_LIBCPP_BEGIN_NAMESPACE_STD
[[noreturn]] void __libcpp_verbose_abort(char const*, ...) { __builtin_trap(); }
_LIBCPP_END_NAMESPACE_STD
