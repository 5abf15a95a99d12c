# fedi_embed_files(TARGET DIR GLOB NAMESPACE FUNCTION OUTPUT): compiles the files matching
# GLOB in DIR into TARGET, as `std::optional<std::string_view> NAMESPACE::FUNCTION(name)`
# (declare it in a header of your own). The text is in the binary: nothing is read from
# disk at run time, and a changed file is embedded again at the next build.
function(fedi_embed_files)
  cmake_parse_arguments(EMBED "" "TARGET;DIR;GLOB;NAMESPACE;FUNCTION;OUTPUT" "" ${ARGN})
  file(GLOB files CONFIGURE_DEPENDS "${EMBED_DIR}/${EMBED_GLOB}")
  set(generator "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/embed_files_generate.cmake")
  add_custom_command(
    OUTPUT "${EMBED_OUTPUT}"
    COMMAND "${CMAKE_COMMAND}" "-DDIR=${EMBED_DIR}" "-DGLOB=${EMBED_GLOB}"
            "-DNAMESPACE=${EMBED_NAMESPACE}" "-DFUNCTION=${EMBED_FUNCTION}"
            "-DOUTPUT=${EMBED_OUTPUT}" -P "${generator}"
    DEPENDS ${files} "${generator}"
    COMMENT "Embedding ${EMBED_DIR}/${EMBED_GLOB}"
    VERBATIM)
  target_sources(${EMBED_TARGET} PRIVATE "${EMBED_OUTPUT}")
endfunction()
