/* Fuzz target: the spec parser (YAML text through the text guard,
 * libfyaml and the spec schema) on arbitrary bytes. */
#include "fuzz.h"

#include "visbench/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    vb_spec *spec = (vb_spec *)1;
    vb_error err = {0};
    vb_status st = vb_spec_parse(text, "fuzz.yaml", &spec, &err);
    if (st == VB_OK) {
        FUZZ_REQUIRE(spec != NULL, "no spec");
        vb_spec_free(spec);
    } else {
        FUZZ_REQUIRE(spec == NULL, "a spec despite '%s'", err.msg);
        fuzz_require_named(st, &err, "fuzz.yaml");
    }
    free(text);
    return 0;
}
