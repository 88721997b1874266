/* placeholder: being written */
typedef int httpa__placeholder;
