/* test_device.c - hlz_model_set_device where no GPU is usable (this test
 * runs on machines without one; tests/cuda/check_cuda.c covers the GPU):
 * auto stays on the CPU, cuda is an error that leaves the model working,
 * and sessions made on the CPU keep evaluating. */
#include "device.h"
#include "model_util.h"

static const test_model_shape shape = {"llama", 64, 1, 4, 2, 96, 300, 32, HLZ_GGML_Q8_0, 5};

static void device_without_gpu(void)
{
    if (hlz_cuda_device_count() > 0) SKIP("a GPU is usable here: tests/cuda/check_cuda.c covers it");
    uint8_t *bytes = NULL;
    hlz_model *m = tm_open(&shape, &bytes);
    CHECK(m);
    hlz_model_info info;
    hlz_model_get_info(m, &info);
    CHECK(strcmp(info.device, "cpu") == 0);
    hlz_error e;
    CHECK(hlz_model_set_device(m, HLZ_DEVICE_AUTO, &e) == HLZ_OK);
    hlz_model_get_info(m, &info);
    CHECK(strcmp(info.device, "cpu") == 0);
    CHECK(hlz_model_set_device(m, HLZ_DEVICE_CUDA, &e) == HLZ_ERR_UNSUPPORTED);
    CHECK(hlz_model_set_device(m, (hlz_device)7, &e) == HLZ_ERR_PARAM);
    CHECK(hlz_model_set_device(m, HLZ_DEVICE_CPU, &e) == HLZ_OK);
    hlz_session *s = NULL;
    CHECK(hlz_session_create(m, 8, &s, &e) == HLZ_OK);
    int32_t ids[3] = {1, 2, 3};
    float logits[3 * 300];
    CHECK(hlz_model_eval(m, s, ids, 3, logits, &e) == HLZ_OK);
    CHECK(hlz_session_length(s) == 3);
    hlz_session_free(s);
    hlz_model_free(m);
    free(bytes);
}

int main(void)
{
    RUN(device_without_gpu);
    TEST_MAIN_END();
}
