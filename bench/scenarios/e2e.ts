export const benchE2e = async (..._a: unknown[]): Promise<never> => {
  throw new Error('todo');
};
