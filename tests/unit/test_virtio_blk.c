#include <criterion/criterion.h>

Test(virtio_blk, placeholder)
{
}
