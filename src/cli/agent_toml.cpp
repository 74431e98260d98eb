// toml++'s implementation, compiled into shipshape-agent only: Debian ships toml++ as a shared
// library (libtomlplusplus.so) and no static one, and the agent links statically. Every other
// binary links the shared library (see shipshape_toml in CMakeLists.txt).
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>
