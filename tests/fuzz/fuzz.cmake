# libFuzzer targets (tests/fuzz/fuzz_<name>.c -> fuzz/fuzz_<name> in the build folder), built
# when KPA_FUZZ is ON. Included from the top-level CMakeLists.txt after the core libraries are
# defined: their sources are compiled with libFuzzer's coverage instrumentation and ASan+UBSan,
# so the fuzzers see inside the code under test and any memory error or undefined behaviour
# there is a crash. The whole build folder is then a sanitizer build; keep it separate.
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "KPA_FUZZ needs clang (libFuzzer): configure with CC=clang")
endif()

set(KPA_FUZZ_SANITIZERS -fsanitize=address,undefined -fno-sanitize-recover=all
    -fno-omit-frame-pointer -g)
foreach(lib kpa_common kpa_init_core kpa_agent_core)
  if(TARGET ${lib})
    target_compile_options(${lib} PRIVATE -fsanitize=fuzzer-no-link ${KPA_FUZZ_SANITIZERS})
    # Whatever links an instrumented library needs the sanitizer runtimes.
    target_link_options(${lib} INTERFACE -fsanitize=address,undefined)
  endif()
endforeach()

set(KPA_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
file(GLOB KPA_FUZZ_SOURCES CONFIGURE_DEPENDS ${KPA_FUZZ_DIR}/fuzz_*.c)
set(KPA_FUZZ_TARGETS)
foreach(src ${KPA_FUZZ_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer ${KPA_FUZZ_SANITIZERS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(${name} PRIVATE kpa_common)
  if(TARGET kpa_init_core)
    target_link_libraries(${name} PRIVATE kpa_init_core)
  endif()
  if(TARGET kpa_agent_core)
    target_link_libraries(${name} PRIVATE kpa_agent_core)
  endif()
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  list(APPEND KPA_FUZZ_TARGETS ${name})
endforeach()
# kpa-agent reads node.id from --broker-config: its fuzzer serves that "file" from the input
# instead of the file system, so no input can make it open a real file.
# The same for the TLS target: its PEM files and earlier stores come from the input.
foreach(name fuzz_agentcfg fuzz_tls)
  if(TARGET ${name})
    target_link_options(${name} PRIVATE -Wl,--wrap=fsx_read_file)
  endif()
endforeach()
add_custom_target(fuzz DEPENDS ${KPA_FUZZ_TARGETS})

# One CTest test runs every fuzzer for a short while from its seed corpus (CI); longer runs
# are tests/fuzz/run.sh with more seconds (see README "Fuzzing").
set(KPA_FUZZ_SECONDS 10 CACHE STRING "Seconds each fuzzer runs in the fuzz_short test")
list(LENGTH KPA_FUZZ_TARGETS kpa_fuzz_count)
math(EXPR kpa_fuzz_timeout "${kpa_fuzz_count} * (${KPA_FUZZ_SECONDS} + 30) + 60")
enable_testing()
add_test(NAME fuzz_short COMMAND sh ${KPA_FUZZ_DIR}/run.sh ${CMAKE_BINARY_DIR} ${KPA_FUZZ_SECONDS})
set_tests_properties(fuzz_short PROPERTIES TIMEOUT ${kpa_fuzz_timeout})
