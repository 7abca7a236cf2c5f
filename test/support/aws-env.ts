/**
 * The environment of a command line run as a child process that must reach only the endpoints
 * given (`AWS_ENDPOINT_URL_<SERVICE>`: a server the test started): none of the machine's AWS
 * profiles, config files or instance metadata, and test credentials.
 */
export function isolatedAwsEnv(endpoints: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: '/nonexistent',
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...endpoints,
  };
}
