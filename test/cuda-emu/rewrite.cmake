# cmake -DIN=<file.cu> -DOUT=<file.cc> -P rewrite.cmake: a copy of a CUDA source that a C++
# compiler accepts with the emulator's headers. Each launch `k<<<cfg>>>(args)`, k a kernel's
# name with or without template arguments, becomes
#   CUDA_EMU_KERNEL(k) ^ ::cuda_emu::launch_config(__FILE__, __LINE__, cfg) ^ ::cuda_emu::launch_args(args)
# (CUDA_EMU_KERNEL wraps k in a generic lambda, so template arguments are still deduced from
# args); a #line directive keeps the original file and line numbers in messages.
file(READ "${IN}" src)
string(REGEX REPLACE "([A-Za-z_][A-Za-z0-9_:]*(<[^<>;(){}]*>)?)<<<"
       "CUDA_EMU_KERNEL(\\1) ^ ::cuda_emu::launch_config(__FILE__, __LINE__, " src "${src}")
if(src MATCHES "<<<")
  message(FATAL_ERROR "rewrite.cmake: a launch in ${IN} names its kernel in a form it does not know")
endif()
string(REPLACE ">>>" ") ^ ::cuda_emu::launch_args" src "${src}")
file(WRITE "${OUT}.tmp" "#line 1 \"${IN}\"\n${src}")
file(RENAME "${OUT}.tmp" "${OUT}")
