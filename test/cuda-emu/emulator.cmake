# Included by the top-level CMakeLists.txt, after the addon's target, when REPMLP_CUDA_EMULATOR
# is on (development only; see README.md): the CUDA backend compiled as C++ against the
# emulator, and the emulator's libcublas.so.13 in <build>/cuda-emu.
set(_emu ${CMAKE_SOURCE_DIR}/test/cuda-emu)
file(GLOB _cu CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/native/cuda/*.cu)
file(GLOB _cc CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/native/cuda/*.cc)
set(_rewritten "")
foreach(_f IN LISTS _cu)
  get_filename_component(_name ${_f} NAME_WE)
  set(_out ${CMAKE_BINARY_DIR}/cuda-emu/${_name}.cu.cc)
  add_custom_command(OUTPUT ${_out}
                     COMMAND ${CMAKE_COMMAND} -DIN=${_f} -DOUT=${_out} -P ${_emu}/rewrite.cmake
                     DEPENDS ${_f} ${_emu}/rewrite.cmake
                     COMMENT "cuda-emu: rewriting launches in ${_name}.cu")
  list(APPEND _rewritten ${_out})
endforeach()
# nvcc declares the runtime API in every .cu file without an include.
set_source_files_properties(${_rewritten} PROPERTIES COMPILE_OPTIONS "-include;${_emu}/include/cuda_runtime.h")
target_sources(${PROJECT_NAME} PRIVATE ${_rewritten} ${_cc} ${_emu}/runtime.cc)
target_compile_definitions(${PROJECT_NAME} PRIVATE REPMLP_WITH_CUDA)
# The emulator's cuda_runtime.h; native/cuda for the rewritten sources' quoted includes.
target_include_directories(${PROJECT_NAME} BEFORE PRIVATE ${_emu}/include ${CMAKE_SOURCE_DIR}/native/cuda)

# The fake cuBLAS, found by the addon's loader through REPMLP_CUBLAS_PATH.
add_library(cublas_emu SHARED ${_emu}/cublas.cc)
set_target_properties(cublas_emu PROPERTIES OUTPUT_NAME cublas PREFIX lib SUFFIX .so.13
                      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/cuda-emu)
target_compile_options(cublas_emu PRIVATE -O3 -fvisibility=hidden)
