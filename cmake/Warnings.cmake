# Warnings as an INTERFACE target: every shipshape target links it, third-party code does not.
add_library(shipshape_warnings INTERFACE)
target_compile_options(shipshape_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wold-style-cast -Wcast-qual -Wnon-virtual-dtor
  -Woverloaded-virtual -Wformat=2 -Wimplicit-fallthrough
  -Wmisleading-indentation -Wduplicated-cond -Wlogical-op -Wuseless-cast)
if(SHIPSHAPE_WERROR)
  target_compile_options(shipshape_warnings INTERFACE -Werror)
endif()
