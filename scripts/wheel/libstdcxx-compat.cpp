// What Swift's static runtime needs from a libstdc++ newer than gcc 10's, which the
// portable build links statically (scripts/wheel.sh): std::__throw_bad_array_new_length
// arrived in gcc 11. It throws what its name says, as gcc 11's does.
#include <new>

namespace std {
__attribute__((visibility("hidden"), noreturn)) void __throw_bad_array_new_length() {
    throw std::bad_array_new_length();
}
}  // namespace std
