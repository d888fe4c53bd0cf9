# Test registration: every tests/c/test_*.c is a C unit test, every tests/spec/*_spec.lua
# a busted spec run by a stock lua5.4 against the build tree, every examples/*.lua a smoke
# test run by the host in its reduced-size mode (GMMKIT_SMOKE=1). New files are picked up
# on the next configure (CONFIGURE_DEPENDS).
find_program(GK_LUA_EXE NAMES lua5.4)
find_program(GK_BUSTED NAMES busted)
set(GK_TEST_ENV
  "LUA_PATH_5_4=${PROJECT_SOURCE_DIR}/lua/?.lua\;${PROJECT_SOURCE_DIR}/lua/?/init.lua\;${PROJECT_SOURCE_DIR}/tests/spec/?.lua\;\;"
  "LUA_CPATH_5_4=${PROJECT_BINARY_DIR}/lib/?.so\;\;"
  "GMMKIT_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
  "GMMKIT_BUILD_DIR=${PROJECT_BINARY_DIR}"
  "GMMKIT_HOST=$<TARGET_FILE:gmmkit_host>")
if(GMMKIT_SANITIZE)
  # The stock lua5.4 is not instrumented: preload the runtime for the specs; Lua's own
  # allocations are not tracked, so leak checking is done on the host and C tests only.
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE GK_LIBASAN OUTPUT_STRIP_TRAILING_WHITESPACE)
  list(APPEND GK_TEST_ENV "GK_ASAN_PRELOAD=${GK_LIBASAN}"
    "ASAN_OPTIONS=detect_leaks=0:abort_on_error=0"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()

file(GLOB GK_C_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/c/test_*.c)
foreach(src ${GK_C_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE gmmkit_static)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/c)
  target_compile_options(${name} PRIVATE ${GK_WARNINGS})
  add_test(NAME c.${name} COMMAND ${name})
  set_tests_properties(c.${name} PROPERTIES ENVIRONMENT "${GK_TEST_ENV}" LABELS c)
endforeach()

if(GK_LUA_EXE AND GK_BUSTED)
  file(GLOB GK_SPECS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/spec/*_spec.lua)
  foreach(spec ${GK_SPECS})
    get_filename_component(name ${spec} NAME_WE)
    add_test(NAME spec.${name}
      COMMAND ${PROJECT_SOURCE_DIR}/tests/run_spec ${GK_LUA_EXE} ${GK_BUSTED} ${spec}
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(spec.${name} PROPERTIES ENVIRONMENT "${GK_TEST_ENV}" LABELS spec)
  endforeach()
else()
  message(WARNING "lua5.4 or busted not found (Debian: lua5.4, lua-busted): specs not registered")
endif()

file(GLOB GK_EXAMPLES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/examples/*.lua)
foreach(ex ${GK_EXAMPLES})
  get_filename_component(name ${ex} NAME_WE)
  add_test(NAME example.${name} COMMAND gmmkit_host ${ex}
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  set_tests_properties(example.${name} PROPERTIES
    ENVIRONMENT "${GK_TEST_ENV};GMMKIT_SMOKE=1;GMMKIT_OUT=${PROJECT_BINARY_DIR}/example-out/${name}"
    LABELS example)
endforeach()
