// no-secrets-in-outputs: a @secure() param through a var.
@secure()
param adminKey string

var header = 'Bearer ${adminKey}'

output authHeader string = header
