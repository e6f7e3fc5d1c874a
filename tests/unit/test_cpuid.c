#include <criterion/criterion.h>

Test(cpuid, placeholder)
{
}
