# Included by the top-level CMakeLists.txt, after the addon's target, when REPMLP_CUDA_EMULATOR
# is on (development only; see README.md): the CUDA backend compiled as C++ against the
# emulator, the emulator's libcublas.so.13 and its self-test, both in <build>/cuda-emu.
set(_emu ${CMAKE_SOURCE_DIR}/test/cuda-emu)

# A copy of the CUDA source `in` with its launches rewritten (rewrite.cmake), appended to the
# list `out_list`; nvcc declares the runtime API in every .cu file without an include, and
# nvcc's pragmas (`#pragma unroll`) mean nothing to g++.
function(cuda_emu_rewrite in out_list)
  get_filename_component(_name ${in} NAME_WE)
  set(_out ${CMAKE_BINARY_DIR}/cuda-emu/${_name}.cu.cc)
  add_custom_command(OUTPUT ${_out}
                     COMMAND ${CMAKE_COMMAND} -DIN=${in} -DOUT=${_out} -P ${_emu}/rewrite.cmake
                     DEPENDS ${in} ${_emu}/rewrite.cmake
                     COMMENT "cuda-emu: rewriting launches in ${_name}.cu")
  set_source_files_properties(${_out} PROPERTIES COMPILE_OPTIONS
                              "-include;${_emu}/include/cuda_runtime.h;-Wno-unknown-pragmas")
  set(${out_list} ${${out_list}} ${_out} PARENT_SCOPE)
endfunction()

file(GLOB _cu CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/native/cuda/*.cu)
file(GLOB _cc CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/native/cuda/*.cc)
set(_rewritten "")
foreach(_f IN LISTS _cu)
  cuda_emu_rewrite(${_f} _rewritten)
endforeach()

# The emulator's runtime, linked into the addon and into the self-test.
add_library(cuda_emu_runtime OBJECT ${_emu}/launch.cc ${_emu}/memory.cc ${_emu}/api.cc)
set_target_properties(cuda_emu_runtime PROPERTIES POSITION_INDEPENDENT_CODE ON)
target_include_directories(cuda_emu_runtime PRIVATE ${_emu}/include)
target_compile_options(cuda_emu_runtime PRIVATE -O3 -Wall -Wextra -fvisibility=hidden)

target_sources(${PROJECT_NAME} PRIVATE ${_rewritten} ${_cc} $<TARGET_OBJECTS:cuda_emu_runtime>)
target_compile_definitions(${PROJECT_NAME} PRIVATE REPMLP_WITH_CUDA)
# The emulator's cuda_runtime.h; native/cuda for the rewritten sources' quoted includes.
target_include_directories(${PROJECT_NAME} BEFORE PRIVATE ${_emu}/include ${CMAKE_SOURCE_DIR}/native/cuda)

# The fake cuBLAS, found by the addon's loader through REPMLP_CUBLAS_PATH.
add_library(cublas_emu SHARED ${_emu}/cublas.cc)
set_target_properties(cublas_emu PROPERTIES OUTPUT_NAME cublas PREFIX lib SUFFIX .so.13
                      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/cuda-emu)
target_compile_options(cublas_emu PRIVATE -O3 -fvisibility=hidden)

# The emulator's self-test (selftest.cu), which `npm run test:emu` runs before the GPU suite.
set(_selftest "")
cuda_emu_rewrite(${_emu}/selftest.cu _selftest)
add_executable(cuda_emu_selftest ${_selftest} $<TARGET_OBJECTS:cuda_emu_runtime>)
target_include_directories(cuda_emu_selftest BEFORE PRIVATE ${_emu}/include)
target_compile_options(cuda_emu_selftest PRIVATE -O2 -Wall -Wextra)
set_target_properties(cuda_emu_selftest PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/cuda-emu)

if(REPMLP_WERROR)
  foreach(_t cuda_emu_runtime cublas_emu cuda_emu_selftest)
    target_compile_options(${_t} PRIVATE -Werror)
  endforeach()
endif()
