export const benchFanout = async (..._a: unknown[]): Promise<never> => {
  throw new Error('todo');
};
