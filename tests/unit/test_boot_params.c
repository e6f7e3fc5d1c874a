#include <criterion/criterion.h>

Test(boot_params, placeholder)
{
}
