# Warnings as an INTERFACE target: every shipshape target links it, third-party code does not.
add_library(shipshape_warnings INTERFACE)
target_compile_options(shipshape_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wold-style-cast -Wcast-qual -Wnon-virtual-dtor
  -Woverloaded-virtual -Wformat=2 -Wimplicit-fallthrough
  -Wmisleading-indentation -Wduplicated-cond -Wlogical-op -Wuseless-cast)
# GCC 12 reports -Wrestrict false positives inside std::string at -O3 (GCC bug 105329).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(shipshape_warnings INTERFACE -Wno-restrict)
endif()
if(SHIPSHAPE_WERROR)
  target_compile_options(shipshape_warnings INTERFACE -Werror)
endif()
