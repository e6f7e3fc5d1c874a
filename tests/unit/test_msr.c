#include <criterion/criterion.h>

Test(msr, placeholder)
{
}
